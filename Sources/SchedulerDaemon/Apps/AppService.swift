import Foundation
import Logging
import Placement
import SchedModel
import SchedStore
import SchedWire

/// Apps, their blue and green sets, and deployments: the scheduler's decisions about slots.
///
/// Placement is pure; this actor gathers its input, commits the result in one transaction, and
/// tells every node involved its complete list of slots (`assign`).
public actor AppService {
  let cluster: Cluster
  let store: any StateStore
  let logger: Logger
  let commandTimeout: Duration
  let routers: RouterHub
  let switchTimeout: Duration
  /// Apps with a deploy, stop, switch or retire in progress; a second one is refused rather
  /// than interleaved.
  var busy: Set<String> = []
  /// Sets being retired: left out of the route table while they drain.
  var retiring: Set<String> = []
  /// Automatic retires scheduled by keep_warm, by app.
  var keepWarmTasks: [String: Task<Void, Never>] = [:]
  var refreshing = false
  var refreshAgain = false
  /// Apps, sets and allocations as last read, for the switch and the route table. Every write
  /// of them clears it and bumps the version; a read that raced a write is not kept.
  var cachedState: StateSnapshot?
  var stateVersion = 0
  /// What `/metrics` exports of switches, deploys and verifications.
  nonisolated let counters = OperatorCounters()
  /// Deploys still building their set, by app: a second deploy or a verify is refused.
  var deployLocks: [String: AppLock] = [:]
  /// Verifications by app: the running one, or the last one this process ran.
  var verifications: [String: Verification] = [:]
  /// CPU and memory held on a node by a test run, by run.
  var testReservations: [String: (node: NodeID, resources: Resources)] = [:]
  /// Nodes with a push under way, and nodes whose list changed since their push began.
  private var pushing: Set<NodeID> = []
  private var dirty: Set<NodeID> = []

  init(
    cluster: Cluster, routers: RouterHub, commandTimeout: Duration, switchTimeout: Duration,
    logger: Logger
  ) {
    self.cluster = cluster
    self.store = cluster.store
    self.routers = routers
    self.commandTimeout = commandTimeout
    self.switchTimeout = switchTimeout
    self.logger = logger
  }

  // MARK: apps

  public func apply(_ spec: AppSpec, actor: String) async throws(APIFailure) -> AppRecord {
    do { try spec.validate() } catch { throw APIFailure(.badRequest, error.message) }
    if let problem = spec.demandProblem(nodes: await cluster.snapshot()) {
      throw APIFailure(.badRequest, problem)
    }
    let existing = try await app(spec.name, required: false)
    let record = AppRecord(spec: spec, live: existing?.live, updatedAt: cluster.now())
    let detail =
      existing == nil
      ? "created: \(spec.slots) x \(spec.image)" : "updated: \(spec.slots) x \(spec.image)"
    invalidateState()
    defer { invalidateState() }
    try await wrap {
      try await store.saveApp(
        record,
        events: [
          ClusterEvent(
            at: record.updatedAt, actor: actor, kind: "app.applied", subject: spec.name,
            detail: detail)
        ])
    }
    return record
  }

  public func apps() async throws(APIFailure) -> [AppRecord] {
    try await wrap { try await store.apps() }
  }

  // MARK: deploy

  /// Places the idle color of `name` from `image`, all or nothing, commits it, and sends the
  /// nodes their slots. Returns once the plan is committed; the set comes up after.
  public func deploy(_ name: String, image: String?, actor: String) async throws(APIFailure)
    -> DeployResponse
  {
    do {
      let placed = try await placeSet(name, image: image, actor: actor)
      counters.deployAnswered(app: name, outcome: "placed")
      return placed
    } catch {
      let refused = error.code == .conflict || error.code == .badRequest
      counters.deployAnswered(app: name, outcome: refused ? "refused" : "failed")
      throw error
    }
  }

  private func placeSet(_ name: String, image: String?, actor: String) async throws(APIFailure)
    -> DeployResponse
  {
    guard let app = try await app(name, required: true) else { throw APIFailure(.notFound, "") }
    guard busy.insert(name).inserted else {
      throw APIFailure(
        .conflict, "a deploy, stop, switch or retire of \(name) is already in progress; wait for it"
      )
    }
    defer { busy.remove(name) }
    try await checkLock(name, asked: "deploy")
    let image = image ?? app.spec.image
    if let problem = ImageReference.problem(image) { throw APIFailure(.badRequest, problem) }
    // The first deploy goes live at once; later ones build the color that is not live.
    let color = app.live?.other ?? .blue
    let allocations = try await wrap { try await store.allocations() }
      .filter { !($0.slot.app == name && $0.slot.color == color) }
    let nodes = await cluster.snapshot()
    let request = SetRequest(
      count: app.spec.slots, demand: app.spec.resources, requiredLabels: app.spec.constraints,
      maxPerNode: app.spec.maxPerNode)
    let view = ClusterView(nodes: nodes, allocations: allocations, at: cluster.now())
    let result: PlacementResult
    do {
      // What running test containers hold is not free for slots.
      result = try Placer.place(request, on: placementNodes(view))
    } catch {
      throw APIFailure(.badRequest, error.message)
    }
    guard case .placed(let planned) = result else {
      if case .unplaced(let slots) = result {
        let reasons = slots.map { "slot \($0.index): \($0.reason)" }.joined(separator: "; ")
        throw APIFailure(
          .conflict,
          "\(name) does not fit (\(app.spec.slots) x \(Quantity.formatCPU(app.spec.resources.cpuMillis)) CPU, \(Quantity.formatMemory(app.spec.resources.memoryBytes))); nothing was placed: \(reasons)"
        )
      }
      throw APIFailure(.conflict, "\(name) does not fit")
    }
    let at = cluster.now()
    let deployment = Self.deploymentID(at)
    let previous = try await wrap { try await store.allocations() }.filter {
      $0.slot.app == name && $0.slot.color == color
    }
    let newAllocations = planned.map {
      Allocation(
        slot: SlotID(app: name, color: color, index: $0.index), node: $0.node,
        hostPort: $0.hostPort, resources: app.spec.resources)
    }
    var record = app
    if record.live == nil { record.live = color }
    record.updatedAt = at
    let set = SetRecord(
      app: name, color: color, deployment: deployment, image: image, createdAt: at)
    let spread = Dictionary(grouping: planned) { (slot: PlannedSlot) in slot.node }
      .map { (node: NodeID, slots: [PlannedSlot]) in "\(node): \(slots.count)" }
      .sorted().joined(separator: ", ")
    invalidateState()
    defer { invalidateState() }
    try await wrap {
      try await store.commitSet(
        app: record, color: color, set: set, allocations: newAllocations,
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: "set.deployed", subject: "\(name)/\(color.rawValue)",
            detail: "deployment \(deployment): \(planned.count) x \(image) on \(spread)")
        ])
    }
    logger.info(
      "deployed",
      metadata: [
        "app.name": "\(name)", "set.color": "\(color.rawValue)", "deployment": "\(deployment)",
      ])
    deployLocks[name] = AppLock(
      .deploy(deployment: deployment, color: color), holder: actor, since: at)
    await push(to: Set(newAllocations.map(\.node) + previous.map(\.node)))
    await refreshRoutes()
    return DeployResponse(
      app: name, color: color, deployment: deployment, image: image,
      placed: planned.map { .init(index: $0.index, node: $0.node, hostPort: $0.hostPort) })
  }

  /// Stops and removes one color's containers and frees its reservations. The live set is
  /// refused unless `force`: it serves production.
  public func stopSet(_ name: String, color: Color, force: Bool = false, actor: String)
    async throws(APIFailure)
  {
    guard let app = try await app(name, required: true) else { throw APIFailure(.notFound, "") }
    guard busy.insert(name).inserted else {
      throw APIFailure(
        .conflict, "a deploy, stop, switch or retire of \(name) is already in progress; wait for it"
      )
    }
    defer { busy.remove(name) }
    let sets = try await wrap { try await store.sets() }
    guard sets.contains(where: { $0.app == name && $0.color == color }) else {
      throw APIFailure(.notFound, "\(name) has no \(color.rawValue) set")
    }
    if app.live == color, !force {
      let other = color.other.rawValue
      let instead =
        sets.contains(where: { $0.app == name && $0.color == color.other })
        ? "switch to \(other) first (schedctl switch \(name)), then retire the old set (schedctl retire \(name))"
        : "deploy a new set and switch to it (schedctl deploy \(name), schedctl switch \(name))"
      throw APIFailure(
        .conflict,
        "\(color.rawValue) is the live set of \(name) and serves production: stopping it leaves \(name) with nothing to serve. To replace it, \(instead); to take \(name) down anyway, schedctl stop-set \(name) \(color.rawValue) --force"
      )
    }
    try await removeSet(
      app, color: color, actor: actor, kind: "set.stopped",
      detail: app.live == color ? "forced: it was the live set" : nil)
  }

  /// Frees a set's reservations with its event, tells its nodes, and updates the routes.
  func removeSet(
    _ app: AppRecord, color: Color, actor: String, kind: String, detail: String?
  ) async throws(APIFailure) {
    var app = app
    let name = app.name
    let previous = try await wrap { try await store.allocations() }.filter {
      $0.slot.app == name && $0.slot.color == color
    }
    let at = cluster.now()
    if app.live == color { app.live = nil }
    app.updatedAt = at
    invalidateState()
    defer { invalidateState() }
    try await wrap {
      try await store.commitSet(
        app: app, color: color, set: nil, allocations: [],
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: kind, subject: "\(name)/\(color.rawValue)",
            detail: [detail, "\(previous.count) slot(s) released"].compactMap { $0 }.joined(
              separator: "; "))
        ])
    }
    await push(to: Set(previous.map(\.node)))
    await refreshRoutes()
  }

  // MARK: assignments

  /// Every slot `node` should run, built from the committed sets.
  func assignments(for node: NodeID) async throws(APIFailure) -> [SlotAssignment] {
    var specs: [String: AppSpec] = [:]
    for app in try await wrap({ try await store.apps() }) { specs[app.name] = app.spec }
    var sets: [SlotKey: SetRecord] = [:]
    for set in try await wrap({ try await store.sets() }) {
      sets[SlotKey(app: set.app, color: set.color)] = set
    }
    let mine = try await wrap { try await store.allocations() }.filter { $0.node == node }
    return mine.compactMap { (allocation: Allocation) -> SlotAssignment? in
      guard let spec = specs[allocation.slot.app],
        let set = sets[SlotKey(app: allocation.slot.app, color: allocation.slot.color)]
      else { return nil }
      return SlotAssignment(
        slot: allocation.slot, deployment: set.deployment, image: set.image,
        resources: allocation.resources, hostPort: allocation.hostPort,
        containerPort: spec.containerPort, env: spec.env, health: spec.health,
        network: spec.network, security: spec.security, log: spec.log)
    }
  }

  private struct SlotKey: Hashable {
    var app: String
    var color: Color
  }

  /// Sends each node its complete slot list. A node that is not connected gets it when it
  /// registers again.
  func push(to nodes: Set<NodeID>) async {
    await withTaskGroup(of: Void.self) { group in
      for node in nodes {
        group.addTask { await self.push(to: node) }
      }
    }
  }

  /// Sends `node` its slot list. Pushes to one node never overlap: a push asked for while one
  /// is under way makes that one go round again with the list as it is then, so the last list a
  /// node receives is always the newest.
  func push(to node: NodeID) async {
    dirty.insert(node)
    guard pushing.insert(node).inserted else { return }
    defer { pushing.remove(node) }
    while dirty.remove(node) != nil {
      await sendAssignments(to: node)
    }
  }

  private func sendAssignments(to node: NodeID) async {
    do {
      let slots = try await assignments(for: node)
      let ack = try await cluster.send(
        .assign(AssignSlots(slots: slots)), to: node, timeout: commandTimeout)
      logger.debug(
        "slots sent",
        metadata: ["node.id": "\(node)", "slots": "\(slots.count)", "ack": "\(ack.message ?? "")"])
      if !ack.ok {
        logger.warning(
          "node refused its slots",
          metadata: ["node.id": "\(node)", "reason": "\(ack.message ?? "")"])
      }
    } catch let error as SchedulerError where error.code == .nodeNotConnected {
      logger.debug(
        "node not connected; it gets its slots when it registers", metadata: ["node.id": "\(node)"])
    } catch {
      logger.warning(
        "cannot send slots to node", metadata: ["node.id": "\(node)", "error": "\(error)"])
    }
  }

  // MARK: plumbing

  /// The apps, sets and allocations, from memory when nothing changed since the last read.
  func state() async throws(APIFailure) -> StateSnapshot {
    if let cachedState { return cachedState }
    let version = stateVersion
    let snapshot = StateSnapshot(
      apps: try await wrap { try await store.apps() },
      sets: try await wrap { try await store.sets() },
      allocations: try await wrap { try await store.allocations() })
    if version == stateVersion { cachedState = snapshot }
    return snapshot
  }

  /// Called around every write of apps, sets or allocations.
  func invalidateState() {
    cachedState = nil
    stateVersion += 1
  }

  static func deploymentID(_ at: Date) -> String {
    let millis = Int64(at.timeIntervalSince1970 * 1000)
    return "d" + String(millis, radix: 36) + String(UInt16.random(in: 0...UInt16.max), radix: 36)
  }

  func app(_ name: String, required: Bool) async throws(APIFailure) -> AppRecord? {
    let found = try await wrap { try await store.apps() }.first { $0.name == name }
    if found == nil && required {
      throw APIFailure(.notFound, "no app named '\(name)'; create it with schedctl app apply FILE")
    }
    return found
  }

  func wrap<T>(_ body: () async throws -> T) async throws(APIFailure) -> T {
    do { return try await body() } catch let error as APIFailure {
      throw error
    } catch {
      throw APIFailure(.internalError, "state store: \(error)")
    }
  }
}

/// A failure the API turns into a status code and a message.
public struct APIFailure: Error, Sendable, CustomStringConvertible {
  public enum Code: Sendable {
    case badRequest, notFound, conflict, unavailable, internalError
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}

/// One consistent read of what the scheduler decided: apps, their sets, and slot reservations.
struct StateSnapshot: Sendable {
  var apps: [AppRecord]
  var sets: [SetRecord]
  var allocations: [Allocation]
}
