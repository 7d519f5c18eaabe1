import Foundation
import Placement
import SchedModel
import SchedStore
import SchedWire

/// `schedctl verify`: the candidate set's image resolved to the digest its slots run, each test
/// run from that digest on a node with room for it (reserved while it runs), then every check
/// against every candidate slot directly and through each router's preview listener. The
/// result is stored against the digest; `switch` looks for a pass.
extension AppService {
  /// What a candidate set is: its record, slots and the one image id they all run.
  struct Candidate {
    var set: SetRecord
    var slots: [SlotView]
    var allocations: [Allocation]
    var digest: String
  }

  /// The candidate set of `app` as it runs now, or the reason it cannot be verified. A caller
  /// that already read the slot reports and nodes (a switch) passes them in.
  func candidate(
    of app: AppRecord, state: StateSnapshot,
    reports known: [SlotID: (node: NodeID, status: SlotStatus)]? = nil,
    nodes knownNodes: [Node]? = nil
  ) async throws(APIFailure) -> Candidate {
    let name = app.name
    guard let set = state.sets.first(where: { $0.app == name && $0.color != app.live }) else {
      throw APIFailure(
        .conflict, "\(name) has no candidate set; deploy one first (schedctl deploy \(name))")
    }
    let reports = if let known { known } else { await cluster.slotStatuses() }
    let nodeList = if let knownNodes { knownNodes } else { await cluster.snapshot() }
    let nodes = Dictionary(uniqueKeysWithValues: nodeList.map { ($0.id, $0) })
    let allocations = state.allocations.filter { $0.slot.app == name && $0.slot.color == set.color }
      .sorted { $0.slot.index < $1.slot.index }
    let slots = allocations.map {
      Self.slotView($0, set: set, node: nodes[$0.node], report: reports[$0.slot])
    }
    guard !slots.isEmpty, slots.allSatisfy({ $0.health == .healthy }) else {
      throw APIFailure(
        .conflict,
        "the \(set.color.rawValue) set of \(name) is not ready: \(Self.notHealthy(slots).joined(separator: "; ")); wait until every slot is healthy (schedctl status \(name))"
      )
    }
    let digests = Set(allocations.compactMap { reports[$0.slot]?.status.imageID })
    guard digests.count == 1, let digest = digests.first,
      allocations.allSatisfy({ reports[$0.slot]?.status.imageID != nil })
    else {
      throw APIFailure(
        .conflict,
        digests.count > 1
          ? "the slots of the \(set.color.rawValue) set of \(name) run different images (\(digests.sorted().joined(separator: ", "))): \(set.image) names different builds on different nodes; build it once and load the same image everywhere"
          : "the agents have not reported the image id of every \(set.color.rawValue) slot of \(name) yet; try again in a moment"
      )
    }
    return Candidate(set: set, slots: slots, allocations: allocations, digest: digest)
  }

  /// Starts verifying the candidate set of `name`; the run goes on in the background.
  public func startVerification(_ name: String, actor: String) async throws(APIFailure)
    -> Verification
  {
    let state = try await state()
    guard let app = state.apps.first(where: { $0.name == name }) else {
      throw APIFailure(.notFound, "no app named '\(name)'; create it with schedctl app apply FILE")
    }
    if let running = verifications[name], running.state == .running {
      throw APIFailure(
        .conflict,
        "verification \(running.id) of \(name) is still running; follow it with schedctl verify \(name) --show"
      )
    }
    try await checkLock(name, asked: "verify")
    let candidate = try await candidate(of: app, state: state)
    // Checked again after the suspension above: two verify calls must not both start.
    if let running = verifications[name], running.state == .running {
      throw APIFailure(.conflict, "verification \(running.id) of \(name) has just started")
    }
    let at = cluster.now()
    let verification = Verification(
      id: "v\(Int64(at.timeIntervalSince1970 * 1000))", app: name, color: candidate.set.color,
      deployment: candidate.set.deployment, image: candidate.set.image, digest: candidate.digest,
      actor: actor, startedAt: at)
    verifications[name] = verification
    try await wrap {
      try await store.saveVerification(
        verification,
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: "app.verify_started", subject: name,
            detail:
              "\(verification.id): the \(candidate.set.color.rawValue) set (\(candidate.set.deployment), \(candidate.set.image), \(candidate.digest))"
          )
        ])
    }
    Task { await self.runVerification(app, candidate) }
    return verification
  }

  /// A verification of `app` by id: the one this process runs or ran, or a stored one.
  public func verification(_ name: String, id: String) async throws(APIFailure) -> Verification {
    if let current = verifications[name], current.id == id { return current }
    let stored = try await wrap {
      try await store.verifications(app: name, digest: nil, limit: 200)
    }
    guard let found = stored.first(where: { $0.id == id }) else {
      throw APIFailure(.notFound, "\(name) has no verification \(id)")
    }
    return found
  }

  /// The latest verification of the image the candidate set runs now, else the latest at all.
  public func latestVerification(_ name: String) async throws(APIFailure) -> Verification {
    let state = try await state()
    guard let app = state.apps.first(where: { $0.name == name }) else {
      throw APIFailure(.notFound, "no app named '\(name)'; create it with schedctl app apply FILE")
    }
    let digest = try? await candidate(of: app, state: state).digest
    if let current = verifications[name], digest == nil || current.digest == digest {
      return current
    }
    let stored = try await wrap {
      try await store.verifications(app: name, digest: digest, limit: 1)
    }
    guard var latest = stored.first else {
      throw APIFailure(
        .notFound,
        "\(name) has no verification\(digest.map { " of \($0)" } ?? ""); run schedctl verify \(name)"
      )
    }
    if latest.state == .running {
      // Stored as running, not running here: the scheduler restarted during it.
      latest.state = .failed
      latest.summary = "interrupted: the scheduler restarted during it; run schedctl verify again"
    }
    return latest
  }

  /// The gate of a switch: the candidate's digest and deployment passed a verification.
  func passingVerification(
    _ app: AppRecord, target: SetRecord, state: StateSnapshot,
    reports: [SlotID: (node: NodeID, status: SlotStatus)], nodes: [Node]
  ) async -> (passed: Bool, reason: String) {
    let candidate: Candidate
    do {
      candidate = try await self.candidate(of: app, state: state, reports: reports, nodes: nodes)
    } catch {
      return (false, error.message)
    }
    // The verification this process ran last is the usual answer: no read on the switch's path.
    if let recent = verifications[app.name], recent.state == .passed,
      recent.digest == candidate.digest, recent.deployment == target.deployment
    {
      return (true, "")
    }
    let found = try? await store.verifications(app: app.name, digest: candidate.digest, limit: 20)
    let mine = (found ?? []).filter { $0.deployment == target.deployment }
    if mine.contains(where: { $0.state == .passed }) { return (true, "") }
    if let last = mine.first {
      let reason: String
      switch last.state {
      case .running where verifications[app.name]?.id == last.id:
        reason = "its verification \(last.id) is still running"
      case .running:
        reason =
          "its verification \(last.id) was interrupted (the scheduler restarted during it); run schedctl verify \(app.name) again"
      default:
        reason =
          "its last verification (\(last.id)) failed: \(last.summary ?? "see schedctl verify \(app.name) --show")"
      }
      return (false, reason)
    }
    return (
      false,
      "deployment \(target.deployment) (\(target.image), \(candidate.digest)) has not been verified"
    )
  }

  // MARK: the run

  private func runVerification(_ app: AppRecord, _ candidate: Candidate) async {
    let name = app.name
    for test in app.spec.tests {
      await runTest(test, app: app, candidate: candidate)
    }
    var checks = app.spec.checks
    if checks.isEmpty {
      // Every slot is checked even when the spec names no check: its health path.
      checks = [
        CheckSpec(
          name: "health", http: HTTPCheck(path: app.spec.health.path, status: 200),
          timeoutMillis: max(app.spec.health.timeoutMillis, 1000))
      ]
    }
    let nodes = Dictionary(uniqueKeysWithValues: await cluster.snapshot().map { ($0.id, $0) })
    let previews = await routers.previews
    for check in checks {
      for allocation in candidate.allocations {
        guard let node = nodes[allocation.node] else { continue }
        let address = "\(node.spec.address):\(allocation.hostPort)"
        let index = addStep(
          name,
          VerifyStep(
            kind: .check, name: check.name, target: "slot \(allocation.slot) at \(address)"))
        let result = await CheckRunner.run(check, address: address, hostHeader: nil, expect: nil)
        finishStep(name, index, result)
      }
      guard !check.isTCP else { continue }
      if previews.isEmpty {
        let index = addStep(
          name, VerifyStep(kind: .check, name: check.name, target: "a router's preview listener"))
        finishStep(
          name, index,
          CheckRunner.Result(
            passed: false, millis: 0,
            detail:
              "no connected router has a preview listener; start sched-router with --preview-listen HOST:PORT"
          ))
      }
      for (router, address) in previews {
        let index = addStep(
          name,
          VerifyStep(
            kind: .check, name: check.name, target: "router \(router) preview at \(address)"))
        let result = await CheckRunner.run(
          check, address: address, hostHeader: app.spec.hosts.first,
          expect: (candidate.set.color, candidate.set.deployment))
        finishStep(name, index, result)
      }
    }
    guard var verification = verifications[name] else { return }
    let failures = verification.steps.filter { $0.state == .failed }
    verification.state = failures.isEmpty ? .passed : .failed
    verification.finishedAt = cluster.now()
    verification.summary = failures.first.map {
      "\($0.kind.rawValue) \($0.name) on \($0.target): \($0.detail ?? "failed")"
        + (failures.count > 1 ? " (and \(failures.count - 1) more)" : "")
    }
    verifications[name] = verification
    let passed = verification.state == .passed
    counters.verificationEnded(app: name, passed: passed)
    logger.info(
      "verification finished",
      metadata: [
        "app.name": "\(name)", "id": "\(verification.id)", "state": "\(verification.state)",
      ])
    do {
      try await store.saveVerification(
        verification,
        events: [
          ClusterEvent(
            at: verification.finishedAt!, actor: verification.actor,
            kind: passed ? "app.verified" : "app.verify_failed", subject: name,
            detail:
              "\(verification.id) of \(verification.deployment) (\(verification.digest)): \(passed ? "\(verification.steps.count) steps passed" : verification.summary ?? "failed")"
          )
        ])
    } catch {
      logger.error(
        "cannot store a verification", metadata: ["app.name": "\(name)", "error": "\(error)"])
    }
  }

  private func runTest(_ test: TestSpec, app: AppRecord, candidate: Candidate) async {
    let name = app.name
    guard let verification = verifications[name] else { return }
    let run = "\(verification.id)-\(test.name)"
    let demand = app.spec.resources
    let index = addStep(name, VerifyStep(kind: .test, name: test.name, target: "placing"))
    guard let node = await reserve(run, demand: demand, constraints: app.spec.constraints) else {
      finishStep(
        name, index,
        CheckRunner.Result(
          passed: false, millis: 0,
          detail:
            "no ready node has \(Quantity.formatCPU(demand.cpuMillis)) CPU and \(Quantity.formatMemory(demand.memoryBytes)) free for the test container"
        ))
      return
    }
    defer { testReservations[run] = nil }
    verifications[name]?.steps[index].target = "node \(node)"
    let request = RunTest(
      run: run, app: name, image: candidate.digest, test: test, cpuMillis: demand.cpuMillis,
      memoryBytes: demand.memoryBytes)
    let started = ContinuousClock.now
    let ack: CommandAck
    do {
      ack = try await cluster.send(
        .runTest(request), to: node, timeout: .milliseconds(test.timeoutMillis) + .seconds(60))
    } catch {
      finishStep(
        name, index,
        CheckRunner.Result(
          passed: false, millis: CheckRunner.millis(ContinuousClock.now - started),
          detail: error.message))
      return
    }
    let outcome = ack.test
    let detail: String =
      if let outcome {
        outcome.error
          ?? (outcome.timedOut
            ? "timed out after \(test.timeoutMillis / 1000) s"
            : "exit code \(outcome.exitCode.map(String.init) ?? "?")")
      } else {
        ack.message ?? "no outcome"
      }
    finishStep(
      name, index,
      CheckRunner.Result(
        passed: ack.ok && outcome?.passed == true,
        millis: outcome?.durationMillis ?? CheckRunner.millis(ContinuousClock.now - started),
        detail: detail),
      output: outcome?.output)
  }

  /// Holds `demand` on a ready node with room for it (slots and other test runs counted).
  private func reserve(_ run: String, demand: Resources, constraints: [String: String]) async
    -> NodeID?
  {
    let nodes = await cluster.snapshot()
    guard let allocations = try? await store.allocations() else { return nil }
    let candidates = placementNodes(
      ClusterView(nodes: nodes, allocations: allocations, at: cluster.now()))
    let request = SetRequest(count: 1, demand: demand, requiredLabels: constraints, maxPerNode: nil)
    guard case .placed(let planned)? = try? Placer.place(request, on: candidates),
      let node = planned.first?.node
    else { return nil }
    testReservations[run] = (node, demand)
    return node
  }

  /// Placement's input with what running test containers hold counted as taken: they keep
  /// their CPU and memory on a node until they end.
  func placementNodes(_ view: ClusterView) -> [PlacementNode] {
    view.placementNodes(forSet: nil).map { node in
      var node = node
      for held in testReservations.values where held.node == node.id {
        node.allocated = node.allocated + held.resources
      }
      return node
    }
  }

  private func addStep(_ app: String, _ step: VerifyStep) -> Int {
    verifications[app]?.steps.append(step)
    return (verifications[app]?.steps.count ?? 1) - 1
  }

  private func finishStep(
    _ app: String, _ index: Int, _ result: CheckRunner.Result, output: String? = nil
  ) {
    guard verifications[app]?.steps.indices.contains(index) == true else { return }
    verifications[app]!.steps[index].state = result.passed ? .passed : .failed
    verifications[app]!.steps[index].durationMillis = result.millis
    verifications[app]!.steps[index].detail = result.detail
    verifications[app]!.steps[index].output = output
  }
}
