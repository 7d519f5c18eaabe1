import Foundation
import OperatorAPI
import Placement
import SchedModel

/// Apply, deploy and stop: the writes of apps and sets.
extension Lifecycle {
  mutating func apply(_ spec: AppSpec, actor: String, _ observed: Observed) -> [LifecycleAction] {
    do { try spec.validate() } catch { return [.refuse(LifecycleError(.invalid, error.message))] }
    if let problem = spec.demandProblem(nodes: observed.nodes.values) {
      return [.refuse(LifecycleError(.invalid, problem))]
    }
    let existing = desired.apps[spec.name]
    let record = AppRecord(spec: spec, live: existing?.live, updatedAt: observed.now)
    let detail = "\(existing == nil ? "created" : "updated"): \(spec.slots) x \(spec.image)"
    return [
      .persist(
        .app(
          record,
          events: [
            ClusterEvent(
              at: observed.now, actor: actor, kind: "app.applied", subject: spec.name,
              detail: detail)
          ]))
    ]
  }

  /// Places the idle color of `name` from `image`, all or nothing. The first deploy goes live
  /// at once; later ones build the color that is not live.
  ///
  /// `pinned` puts slot i on `pinned[i]` (a rebalance's plan); `avoiding` keeps the set off
  /// those nodes; `note` starts the event's detail.
  mutating func deploy(
    _ name: String, image: String?, actor: String, deployment: String,
    pinned: [NodeID]? = nil, avoiding: Set<NodeID> = [], note: String? = nil,
    _ observed: Observed
  ) -> [LifecycleAction] {
    let app: AppRecord
    switch idleApp(name) {
    case .failure(let refusal): return [.refuse(refusal)]
    case .success(let found): app = found
    }
    if let refusal = lockRefusal(name, asked: "deploy", observed) { return [.refuse(refusal)] }
    let image = image ?? app.spec.image
    if let problem = ImageReference.problem(image) {
      return [.refuse(LifecycleError(.invalid, problem))]
    }
    let color = app.live?.other ?? .blue
    let key = SetKey(app: name, color: color)
    let request = SetRequest(
      count: app.spec.slots, demand: app.spec.resources, requiredLabels: app.spec.constraints,
      maxPerNode: app.spec.maxPerNode, avoiding: avoiding)
    let planned: [PlannedSlot]
    do {
      // The color's earlier slots make room; what running test containers hold does not.
      placement.sync(observed)
      if let pinned {
        planned = try placement.placePinned(
          request, on: pinned, releasing: desired.allocations(of: key))
      } else {
        switch try placement.place(request, releasing: desired.allocations(of: key)) {
        case .placed(let slots): planned = slots
        case .unplaced(let slots):
          let reasons = slots.map { "slot \($0.index): \($0.reason)" }.joined(separator: "; ")
          return [
            .refuse(
              LifecycleError(
                .conflict,
                "\(name) does not fit (\(app.spec.slots) x \(Quantity.formatCPU(app.spec.resources.cpuMillis)) CPU, \(Quantity.formatMemory(app.spec.resources.memoryBytes))); nothing was placed: \(reasons)"
              ))
          ]
        }
      }
    } catch {
      if error.code == .doesNotFit {
        return [
          .refuse(LifecycleError(.conflict, "\(name) does not fit where asked: \(error.message)"))
        ]
      }
      return [.refuse(LifecycleError(.invalid, error.message))]
    }
    let at = observed.now
    let allocations = planned.map {
      Allocation(
        slot: SlotID(app: name, color: color, index: $0.index), node: $0.node,
        hostPort: $0.hostPort, resources: app.spec.resources)
    }
    var record = app
    if record.live == nil { record.live = color }
    record.updatedAt = at
    let set = SetRecord(
      app: name, color: color, deployment: deployment, image: image, createdAt: at)
    let spread = Dictionary(grouping: planned, by: \.node)
      .map { "\($0.key): \($0.value.count)" }.sorted().joined(separator: ", ")
    states[name, default: AppState()].phase = .placing(
      Deploy(
        set: set, actor: actor,
        previousNodes: Set(desired.allocations(of: key).map(\.node))))
    holdPending(key, allocations)
    return [
      .persist(
        .set(
          record, color, set, allocations,
          events: [
            ClusterEvent(
              at: at, actor: actor, kind: "set.deployed", subject: key.description,
              detail:
                "\(note.map { "\($0): " } ?? "")deployment \(deployment): \(planned.count) x \(image) on \(spread)"
            )
          ]))
    ]
  }

  /// A deploy's record is in: the set holds the app until it settles, its nodes are told.
  mutating func deployed(_ deploy: Deploy, _ observed: Observed) -> [LifecycleAction] {
    let set = deploy.set
    states[set.app, default: AppState()].deployLock = AppLock(
      .deploy(deployment: set.deployment, color: set.color), holder: deploy.actor,
      since: set.createdAt)
    let allocations = desired.allocations(of: set.key)
    let response = DeployResponse(
      app: set.app, color: set.color, deployment: set.deployment, image: set.image,
      placed: allocations.map {
        .init(index: $0.slot.index, node: $0.node, hostPort: $0.hostPort)
      })
    return [.assign(Set(allocations.map(\.node)).union(deploy.previousNodes))]
      + publish(observed) + [.reply(.deployed(response))]
  }

  /// Stops and removes one color's containers and frees its reservations. The live set is
  /// refused unless `force`: it serves production.
  mutating func stopSet(
    _ name: String, color: Color, force: Bool, actor: String, _ observed: Observed
  ) -> [LifecycleAction] {
    let app: AppRecord
    switch idleApp(name) {
    case .failure(let refusal): return [.refuse(refusal)]
    case .success(let found): app = found
    }
    let key = SetKey(app: name, color: color)
    guard desired.sets[key] != nil else {
      return [.refuse(LifecycleError(.notFound, "\(name) has no \(color.rawValue) set"))]
    }
    if app.live == color, !force {
      let other = color.other.rawValue
      let instead =
        desired.sets[SetKey(app: name, color: color.other)] != nil
        ? "switch to \(other) first (schedctl switch \(name)), then retire the old set (schedctl retire \(name))"
        : "deploy a new set and switch to it (schedctl deploy \(name), schedctl switch \(name))"
      return [
        .refuse(
          LifecycleError(
            .conflict,
            "\(color.rawValue) is the live set of \(name) and serves production: stopping it leaves \(name) with nothing to serve. To replace it, \(instead); to take \(name) down anyway, schedctl stop-set \(name) \(color.rawValue) --force"
          ))
      ]
    }
    let previous = Set(desired.allocations(of: key).map(\.node))
    states[name, default: AppState()].phase = .stopping(Stop(set: key, previousNodes: previous))
    return [
      .persist(
        removal(
          app, color: color, actor: actor, kind: "set.stopped",
          detail: app.live == color ? "forced: it was the live set" : nil, at: observed.now))
    ]
  }

  /// The write that frees a set's reservations, with its event.
  func removal(
    _ app: AppRecord, color: Color, actor: String, kind: String, detail: String?, at: Date
  ) -> Write {
    var app = app
    let key = SetKey(app: app.name, color: color)
    let count = desired.allocations(of: key).count
    if app.live == color { app.live = nil }
    app.updatedAt = at
    return .set(
      app, color, nil, [],
      events: [
        ClusterEvent(
          at: at, actor: actor, kind: kind, subject: key.description,
          detail: [detail, "\(count) slot(s) released"].compactMap { $0 }.joined(
            separator: "; "))
      ])
  }

  /// Why `asked` is refused while a deploy builds its set or a verification runs; a deploy
  /// lock whose set settled (or went) is let go here.
  mutating func lockRefusal(_ name: String, asked: String, _ observed: Observed)
    -> LifecycleError?
  {
    let now = observed.now
    let state = state(of: name)
    if let lock = state.verifyLock {
      return LifecycleError(
        .conflict,
        lock.refusal(app: name, asked: asked, progress: .running(healthy: 0, total: 0), now: now)
      )
    }
    guard let lock = state.deployLock else { return nil }
    let progress = progress(of: lock, app: name, observed)
    guard lock.holds(progress, now: now) else {
      states[name]?.deployLock = nil
      return nil
    }
    return LifecycleError(
      .conflict, lock.refusal(app: name, asked: asked, progress: progress, now: now))
  }

  /// How far a deploy's set has come, from the agents' reports.
  func progress(of lock: AppLock, app name: String, _ observed: Observed) -> AppLock.Progress {
    guard case .deploy(let deployment, let color) = lock.operation else { return .settled }
    guard let set = desired.sets[SetKey(app: name, color: color)], set.deployment == deployment
    else { return .gone }
    let slots = slotViews(of: set, observed)
    switch SetViews.state(of: slots) {
    case .starting:
      return .running(healthy: slots.filter { $0.health == .healthy }.count, total: slots.count)
    case .ready, .degraded: return .settled
    }
  }

  /// Placement's input made afresh: every node with what its slots hold, and what running test
  /// containers hold. `without` leaves out a set's own slots (the color being replaced). The
  /// lifecycle places on the picture it keeps instead; tests check the two agree.
  public func placementNodes(_ observed: Observed, without: SetKey? = nil) -> [PlacementNode] {
    let allocations = desired.allocations.values.filter { $0.slot.set != without }
    return PlacementNode.nodes(observed.nodeList, allocations: allocations).map { node in
      var node = node
      for held in testReservations.values where held.node == node.id {
        node.allocated = node.allocated + held.resources
      }
      return node
    }
  }
}
