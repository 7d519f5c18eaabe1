import Foundation
import RouteTable
import SchedModel
import SchedStore
import SchedWire

/// The switch, rollback and retire, and the route table they and every slot change feed.
extension AppService {
  // MARK: route table

  /// Every app's routes as the scheduler's state has them now, retiring sets left out.
  func routeApps() async throws(APIFailure) -> [AppRoutes] {
    let state = try await state()
    return Self.routes(
      apps: state.apps, sets: state.sets, allocations: state.allocations,
      reports: await cluster.slotStatuses(),
      nodes: await cluster.snapshot(), live: [:], retiring: retiring)
  }

  /// The routes of every app from one snapshot of the scheduler's state. Pure.
  static func routes(
    apps: [AppRecord], sets: [SetRecord], allocations: [Allocation],
    reports: [SlotID: (node: NodeID, status: SlotStatus)], nodes: [Node],
    live overrides: [String: Color], retiring: Set<String>
  ) -> [AppRoutes] {
    var apps = apps
    for index in apps.indices {
      if let color = overrides[apps[index].name] { apps[index].live = color }
    }
    let table = RouteBuilder.build(
      epoch: 0, apps: apps, sets: sets.filter { !retiring.contains(setKey($0.app, $0.color)) },
      allocations: allocations, reports: reports, nodes: nodes,
      hosts: Dictionary(uniqueKeysWithValues: apps.map { ($0.name, $0.spec.hosts) }))
    return table.apps
  }

  /// Rebuilds the table and hands it to the routers when it changed. Calls that arrive while
  /// one runs make it go round once more. Right after a restart nothing is published until
  /// every node with slots has reported (or its TTL passed), so routers keep serving their
  /// saved table instead of one with no healthy slot.
  func refreshRoutes() async {
    refreshAgain = true
    guard !refreshing else { return }
    refreshing = true
    defer { refreshing = false }
    while refreshAgain {
      refreshAgain = false
      do {
        // Read before the state: a switch committed after this makes the table stale.
        let switches = await routers.switches
        let allocations = try await state().allocations
        guard await cluster.knowsSlots(on: Set(allocations.map(\.node))) else { continue }
        let apps = try await routeApps()
        if !(await routers.publish(apps, builtAfter: switches)),
          await routers.switches != switches
        {
          refreshAgain = true
        }
      } catch {
        logger.error("cannot build the route table", metadata: ["error": "\(error)"])
      }
    }
  }

  static func setKey(_ app: String, _ color: Color) -> String { "\(app)/\(color.rawValue)" }

  // MARK: switch and rollback

  /// Makes the other set of `name` live on every router, two-phase. A switch needs every slot
  /// of the candidate healthy; a rollback goes back to the set that was live before (older than
  /// the live one) and needs one healthy slot. No container is started either way.
  public func switchLive(
    _ name: String, rollback: Bool, force: Bool = false, actor: String
  ) async throws(APIFailure) -> SwitchResponse {
    // The body throws untyped: Swift 6.3's ClosureLifetimeFixup pass crashes on it otherwise.
    do {
      return try await performSwitch(name, rollback: rollback, force: force, actor: actor)
    } catch let
      error as APIFailure
    {
      throw error
    } catch {
      throw APIFailure(.internalError, "\(error)")
    }
  }

  private func performSwitch(_ name: String, rollback: Bool, force: Bool, actor: String)
    async throws -> SwitchResponse
  {
    let accepted = Date()
    // One snapshot of the state serves the checks and the new table: a switch is on the
    // critical path of production, every read counts.
    let state = try await state()
    let allApps = state.apps
    guard let app = allApps.first(where: { $0.name == name }) else {
      throw APIFailure(.notFound, "no app named '\(name)'; create it with schedctl app apply FILE")
    }
    let verb = rollback ? "rollback" : "switch"
    guard busy.insert(name).inserted else {
      throw APIFailure(
        .conflict, "a deploy, stop, switch or retire of \(name) is already in progress; wait for it"
      )
    }
    defer { busy.remove(name) }
    let allSets = state.sets
    let allocations = state.allocations
    let reports = await cluster.slotStatuses()
    let nodes = await cluster.snapshot()
    let sets = allSets.filter { $0.app == name }
    let liveColor = app.live
    let current = sets.first { $0.color == liveColor }
    let target = sets.first { $0.color != liveColor }
    guard let live = liveColor, let current else {
      throw APIFailure(
        .conflict, "\(name) has no live set; deploy it first (schedctl deploy \(name))")
    }
    guard let target else {
      throw APIFailure(
        .conflict,
        rollback
          ? "\(name) has no previous set to roll back to: it was retired"
          : "\(name) has no candidate set; deploy one first (schedctl deploy \(name))")
    }
    let byNode = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0) })
    let targetColor = target.color
    let slots = allocations.filter { $0.slot.app == name && $0.slot.color == targetColor }
      .sorted { $0.slot.index < $1.slot.index }
      .map { Self.slotView($0, set: target, node: byNode[$0.node], report: reports[$0.slot]) }
    let healthy = slots.filter { $0.health == .healthy }.count
    if rollback {
      guard target.createdAt <= current.createdAt else {
        throw APIFailure(
          .conflict,
          "the \(target.color.rawValue) set of \(name) (\(target.deployment)) is newer than the live one: it is a candidate, not a previous set; use schedctl switch \(name)"
        )
      }
      guard healthy > 0 else {
        throw APIFailure(
          .conflict,
          "rollback refused: no slot of the \(target.color.rawValue) set of \(name) is healthy")
      }
    } else {
      guard !slots.isEmpty, healthy == slots.count else {
        let bad = Self.notHealthy(slots)
        throw APIFailure(
          .conflict,
          "switch refused: the \(target.color.rawValue) set of \(name) is not ready: \(bad.joined(separator: "; ")); \(live.rawValue) stays live"
        )
      }
    }
    // The gate: a switch (not a rollback, whose set served production before) needs a passing
    // verification of the candidate's digest and deployment, unless forced.
    var forcedPast: String?
    if !rollback {
      let gate = await passingVerification(
        app, target: target, state: state, reports: reports, nodes: nodes)
      if !gate.passed {
        guard force else {
          // The other set is the one that served before: going back is a rollback.
          let hint =
            target.createdAt < current.createdAt
            ? "it is the set that was live before \(live.rawValue); to go back to it, run schedctl rollback \(name)"
            : "run schedctl verify \(name), or switch with --force"
          throw APIFailure(
            .conflict,
            "switch refused: the \(target.color.rawValue) set of \(name) has no passing verification: \(gate.reason); \(hint); \(live.rawValue) stays live"
          )
        }
        forcedPast = gate.reason
      }
    }
    let apps = Self.routes(
      apps: allApps, sets: allSets, allocations: allocations, reports: reports, nodes: nodes,
      live: [name: target.color], retiring: retiring)
    let routes = apps.first { $0.app == name }
    if (routes?.live?.upstreams.count ?? 0) == 0 {
      throw APIFailure(
        .conflict, "\(verb) refused: no slot of the \(target.color.rawValue) set is routable")
    }
    let store = self.store
    let at = cluster.now()
    var updated = app
    updated.live = target.color
    updated.updatedAt = at
    let record = updated
    let kind = rollback ? "app.rolled_back" : "app.switched"
    let names = await routers.connectedNames
    let detail =
      "from \(live.rawValue) (\(current.deployment), \(current.image)) to \(target.color.rawValue) (\(target.deployment), \(target.image)) on router(s) \(names.joined(separator: ", "))"
    let outcome: RouterHub.SwitchOutcome
    invalidateState()
    do {
      outcome = try await routers.switchTables(
        to: apps, timeout: switchTimeout,
        record: Self.recorder(
          store, record, at: at, actor: actor, kind: kind, detail: detail, service: self),
        undo: { [weak self] reason, recorded in
          await self?.recordAbort(app, verb: verb, actor: actor, reason: reason, restore: recorded)
        })
    } catch {
      counters.switchEnded(
        app: name, rollback: rollback, committed: false,
        seconds: Date().timeIntervalSince(accepted))
      await refreshRoutes()
      throw error
    }
    counters.switchEnded(
      app: name, rollback: rollback, committed: true, seconds: Date().timeIntervalSince(accepted))
    logger.info(
      "\(verb) committed",
      metadata: [
        "app.name": "\(name)", "from": "\(live.rawValue)", "to": "\(target.color.rawValue)",
        "epoch": "\(outcome.epoch)",
      ])
    if let forcedPast {
      try? await store.appendEvents([
        ClusterEvent(
          at: cluster.now(), actor: actor, kind: "app.switch_forced", subject: name,
          detail:
            "to \(target.color.rawValue) (\(target.deployment), \(target.image)) at epoch \(outcome.epoch) without a passing verification: \(forcedPast)"
        )
      ])
    }
    scheduleKeepWarm(record, live: target.color, deployment: target.deployment)
    // The routers already serve the new table; a refresh only catches what changed meanwhile.
    Task { await self.refreshRoutes() }
    // The operator hears of the switch once its record is on disk.
    if case .failure(let error) = await outcome.durable.result {
      logger.error(
        "\(verb) record not synced to disk",
        metadata: ["app.name": "\(name)", "error": "\(error)"])
      throw APIFailure(
        .internalError,
        "\(verb) done: \(target.color.rawValue) is live at epoch \(outcome.epoch) on every router, but the scheduler could not sync its record to disk (\(error.message)); check the disk that holds the state database"
      )
    }
    return SwitchResponse(
      app: name, from: live, to: target.color, deployment: target.deployment,
      epoch: outcome.epoch, routers: outcome.routers, lagging: outcome.lagging,
      prepareMillis: outcome.prepareMillis, commitMillis: outcome.commitMillis,
      acceptedAt: accepted)
  }

  static func notHealthy(_ slots: [SlotView]) -> [String] {
    var out: [String] = []
    for slot in slots where slot.health != .healthy {
      var line = "slot \(slot.index) on \(slot.node) is \(slot.health.rawValue)"
      if let message = slot.message { line += " (\(message))" }
      out.append(line)
    }
    return out
  }

  /// The scheduler's own record of a switch: started by the hub once the prepares are written
  /// (the write runs alongside the routers' prepare); its commit is awaited before the routers
  /// commit, its sync to disk before the operator is answered.
  static func recorder(
    _ store: any StateStore, _ record: AppRecord, at: Date, actor: String, kind: String,
    detail: String, service: AppService
  ) -> @Sendable (Int64) -> RouterHub.SwitchRecord {
    { epoch in
      let (committed, durable) = store.startSettingLive(
        record.name, to: record.live, at: record.updatedAt,
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: kind, subject: record.name,
            detail: "\(detail) at epoch \(epoch)")
        ])
      let task = Task {
        let result = await committed.result
        // The caller cleared the cached state before the round; it is cleared again once the
        // write is in (whatever its outcome), before the routers count the switch: a refresh
        // that reads after that sees the new live color.
        await service.invalidateState()
        try result.get()
      }
      return RouterHub.SwitchRecord(committed: task, durable: durable)
    }
  }

  /// Logs an aborted switch; with `restore`, puts `app` back as it was before the switch (its
  /// record may have landed while the routers prepared), in the same transaction.
  private func recordAbort(
    _ app: AppRecord, verb: String, actor: String, reason: String, restore: Bool
  ) async {
    let event = ClusterEvent(
      at: cluster.now(), actor: actor, kind: "app.\(verb)_aborted", subject: app.name,
      detail: "\(app.live?.rawValue ?? "nothing") stays live: \(reason)"
        + (restore
          ? " (the switch's own record, written while the routers prepared, is undone)" : ""))
    invalidateState()
    do {
      if restore {
        try await store.saveApp(app, events: [event])
      } else {
        try await store.appendEvents([event])
      }
    } catch {
      logger.error("cannot record an aborted \(verb)", metadata: ["error": "\(error)"])
    }
    invalidateState()
  }

  // MARK: retire

  /// Takes the set that is not live out of every router, waits for its requests in flight (up
  /// to the drain timeout), then stops its containers.
  public func retire(_ name: String, drainTimeoutMillis: Int64?, actor: String)
    async throws(APIFailure) -> RetireResponse
  {
    guard let app = try await app(name, required: true) else { throw APIFailure(.notFound, "") }
    guard busy.insert(name).inserted else {
      throw APIFailure(
        .conflict, "a deploy, stop, switch or retire of \(name) is already in progress; wait for it"
      )
    }
    defer { busy.remove(name) }
    guard let live = app.live else {
      throw APIFailure(.conflict, "\(name) has no live set; there is nothing to retire")
    }
    let sets = try await wrap { try await store.sets() }
    guard let old = sets.first(where: { $0.app == name && $0.color == live.other }) else {
      throw APIFailure(
        .notFound, "\(name) has only its live \(live.rawValue) set; nothing to retire")
    }
    keepWarmTasks.removeValue(forKey: name)?.cancel()
    let key = Self.setKey(name, old.color)
    retiring.insert(key)
    defer { retiring.remove(key) }
    let switches = await routers.switches
    await routers.publish(try await routeApps(), builtAfter: switches)
    let timeout = max(0, drainTimeoutMillis ?? app.spec.drainTimeoutMillis)
    let clock = ContinuousClock()
    let started = clock.now
    let left = await routers.drain(app: name, color: old.color, timeout: .milliseconds(timeout))
    let drainMillis = RouterHub.millis(clock.now - started)
    let drained =
      left.isEmpty
      ? "drained in \(Int(drainMillis)) ms"
      : "drain timeout \(timeout) ms passed with requests in flight: "
        + left.sorted { $0.key < $1.key }.map {
          "\($0.key) \($0.value < 0 ? "no answer" : "\($0.value)")"
        }
        .joined(separator: ", ")
    try await removeSet(
      app, color: old.color, actor: actor, kind: "app.retired",
      detail: "\(old.color.rawValue) (\(old.deployment), \(old.image)) \(drained)")
    return RetireResponse(
      app: name, color: old.color, deployment: old.deployment, drainMillis: drainMillis,
      inFlightLeft: left)
  }

  /// After a switch, retires the old set once keep_warm has passed, unless another switch,
  /// a rollback or a retire came first.
  func scheduleKeepWarm(_ app: AppRecord, live: Color, deployment: String) {
    keepWarmTasks.removeValue(forKey: app.name)?.cancel()
    guard let keepWarm = app.spec.keepWarmMillis else { return }
    let name = app.name
    keepWarmTasks[name] = Task { [weak self] in
      try? await Task.sleep(for: .milliseconds(keepWarm))
      guard !Task.isCancelled, let self else { return }
      await self.keepWarmExpired(name, live: live, deployment: deployment)
    }
  }

  private func keepWarmExpired(_ name: String, live: Color, deployment: String) async {
    keepWarmTasks[name] = nil
    do {
      guard let app = try await app(name, required: false), app.live == live else { return }
      let sets = try await wrap { try await store.sets() }
      guard
        sets.contains(where: { $0.app == name && $0.color == live && $0.deployment == deployment })
      else { return }
      _ = try await retire(name, drainTimeoutMillis: nil, actor: "scheduler:keep_warm")
    } catch {
      logger.warning(
        "keep_warm retire failed", metadata: ["app.name": "\(name)", "error": "\(error)"])
    }
  }
}
