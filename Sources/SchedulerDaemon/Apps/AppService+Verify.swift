import Checks
import Foundation
import Lifecycle
import SchedModel
import SchedStore
import SchedWire

/// `schedctl verify`: the lifecycle picks the candidate and its digest and records the run;
/// here each test runs from that digest on a node with room for it (reserved while it runs),
/// then every check against every candidate slot, run by the slot's own node (the scheduler
/// dials no node), and through each router's preview listener. The result is stored against
/// the digest; `switch` looks for a pass.
extension AppService {
  /// Starts verifying the candidate set of `name`; the run goes on in the background.
  public func startVerification(_ name: String, actor: String) async throws(LifecycleError)
    -> Verification
  {
    let id = "v\(Int64(cluster.now().timeIntervalSince1970 * 1000))"
    guard
      case .verification(let verification) = try await request(
        .verify(app: name, actor: actor, id: id))
    else { throw Self.noAnswer }
    return verification
  }

  /// A verification of `app` by id: the one this process runs or ran, or a stored one.
  public func verification(_ name: String, id: String) async throws(LifecycleError)
    -> Verification
  {
    if let current = core.state(of: name).verification, current.id == id { return current }
    let stored = try await read {
      try await store.verifications(app: name, digest: nil, limit: 200)
    }
    guard let found = stored.first(where: { $0.id == id }) else {
      throw LifecycleError(.notFound, "\(name) has no verification \(id)")
    }
    return found
  }

  /// The latest verification of the image the candidate set runs now, else the latest at all.
  public func latestVerification(_ name: String) async throws(LifecycleError) -> Verification {
    guard let app = core.desired.apps[name] else {
      throw LifecycleError(
        .notFound, "no app named '\(name)'; create it with schedctl app apply FILE")
    }
    let digest = try? core.candidate(of: app, await observe()).get().digest
    if let current = core.state(of: name).verification, digest == nil || current.digest == digest {
      return current
    }
    let stored = try await read {
      try await store.verifications(app: name, digest: digest, limit: 1)
    }
    guard var latest = stored.first else {
      throw LifecycleError(
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

  func read<T>(_ body: () async throws -> T) async throws(LifecycleError) -> T {
    do { return try await body() } catch {
      throw LifecycleError(.failed, "state store: \((error as? StoreError)?.message ?? "\(error)")")
    }
  }

  // MARK: the run

  func runVerification(_ plan: VerificationPlan) async {
    var run = VerificationRun(plan.verification)
    let spec = plan.spec
    for test in spec.tests {
      await runTest(test, spec: spec, &run)
    }
    var checks = spec.checks
    if checks.isEmpty {
      // Every slot is checked even when the spec names no check: its health path.
      checks = [
        CheckSpec(
          name: "health", http: HTTPCheck(path: spec.health.path, status: 200),
          timeoutMillis: max(spec.health.timeoutMillis, 1000))
      ]
    }
    let previews = await routers.previews
    let verification = plan.verification
    for check in checks {
      for target in plan.slots {
        let index = await run.add(
          VerifyStep(
            kind: .check, name: check.name,
            target: "slot \(target.slot) on node \(target.node) (port \(target.hostPort))"), self)
        await run.finish(index, await checkOnNode(check, target), self)
      }
      guard !check.isTCP else { continue }
      if previews.isEmpty {
        let index = await run.add(
          VerifyStep(kind: .check, name: check.name, target: "a router's preview listener"), self)
        await run.finish(
          index,
          CheckRunner.Result(
            passed: false, millis: 0,
            detail:
              "no connected router has a preview listener; start sched-router with --preview-listen HOST:PORT"
          ), self)
      }
      // Each router checks through its own preview listener and answers; none is dialled.
      var indexes: [String: Int] = [:]
      for (router, address) in previews {
        indexes[router] = await run.add(
          VerifyStep(
            kind: .check, name: check.name, target: "router \(router) preview at \(address)"), self)
      }
      let request = PreviewCheck(
        app: spec.name, host: spec.hosts.first, check: check, color: verification.color,
        deployment: verification.deployment)
      for (router, outcome) in await routers.previewChecks(
        request, timeout: .milliseconds(check.timeoutMillis) + .seconds(10))
      {
        guard let index = indexes[router] else { continue }
        let result: CheckRunner.Result
        switch outcome {
        case .success(let outcome):
          result = CheckRunner.Result(
            passed: outcome.passed, millis: outcome.durationMillis, detail: outcome.detail)
        case .failure(.left):
          result = CheckRunner.Result(
            passed: false, millis: 0, detail: "router \(router) left before answering")
        case .failure(.timedOut):
          result = CheckRunner.Result(
            passed: false, millis: 0,
            detail:
              "router \(router) did not answer in time; is its sched-router older than the scheduler?"
          )
        }
        await run.finish(index, result, self)
      }
      for (router, index) in indexes where run.verification.steps[index].state == .running {
        await run.finish(
          index,
          CheckRunner.Result(
            passed: false, millis: 0, detail: "router \(router) was not asked: it left"), self)
      }
    }
    let ended = run.end(at: cluster.now())
    counters.verificationEnded(app: ended.app, passed: ended.state == .passed)
    logger.info(
      "verification finished",
      metadata: ["app.name": "\(ended.app)", "id": "\(ended.id)", "state": "\(ended.state)"])
    await perform(.verificationChanged(ended))
  }

  /// Has the slot's node run `check` against the slot; a node that cannot be reached or does
  /// not answer in time fails the step with the reason.
  private func checkOnNode(_ check: CheckSpec, _ target: VerificationPlan.Slot) async
    -> CheckRunner.Result
  {
    let started = ContinuousClock.now
    let request = CheckSlot(slot: target.slot, hostPort: target.hostPort, check: check)
    do {
      let ack = try await cluster.send(
        .checkSlot(request), to: target.node,
        timeout: .milliseconds(check.timeoutMillis) + .seconds(10))
      guard let outcome = ack.check else {
        return CheckRunner.Result(
          passed: false, millis: CheckRunner.millis(ContinuousClock.now - started),
          detail:
            "node \(target.node) did not run the check (\(ack.message ?? "no outcome")); is its sched-agent older than the scheduler?"
        )
      }
      return CheckRunner.Result(
        passed: outcome.passed, millis: outcome.durationMillis, detail: outcome.detail)
    } catch {
      return CheckRunner.Result(
        passed: false, millis: CheckRunner.millis(ContinuousClock.now - started),
        detail: "node \(target.node) could not check it: \(error.message)")
    }
  }

  private func runTest(_ test: TestSpec, spec: AppSpec, _ run: inout VerificationRun) async {
    let name = spec.name
    let runID = "\(run.verification.id)-\(test.name)"
    let demand = spec.resources
    let index = await run.add(VerifyStep(kind: .test, name: test.name, target: "placing"), self)
    var reserved: NodeID?
    await perform(.reserveTest(run: runID, demand: demand, constraints: spec.constraints)) {
      if case .success(.reserved(let node)) = $0 { reserved = node }
    }
    guard let node = reserved else {
      await run.finish(
        index,
        CheckRunner.Result(
          passed: false, millis: 0,
          detail:
            "no ready node has \(Quantity.formatCPU(demand.cpuMillis)) CPU and \(Quantity.formatMemory(demand.memoryBytes)) free for the test container"
        ), self)
      return
    }
    await run.retarget(index, "node \(node)", self)
    var request = RunTest(
      run: runID, app: name, image: run.verification.digest, test: test,
      cpuMillis: demand.cpuMillis, memoryBytes: demand.memoryBytes)
    // The node may run none of the candidate's slots: it gets the images from the store.
    var sources: [ImageSource] = []
    for reference in [run.verification.image] + test.companions.map(\.image) {
      if let source = await images.source(for: reference), !sources.contains(source) {
        sources.append(source)
      }
    }
    request.images = sources.isEmpty ? nil : sources
    // The test container gets the app's secrets as the slots do (files as variables too:
    // a test container has no mounts of its own).
    if let values = try? await secrets.values(app: name) {
      for secret in spec.secrets + spec.secretFiles { request.test.env[secret] = values[secret] }
    }
    let started = ContinuousClock.now
    let ack: CommandAck
    do {
      ack = try await cluster.send(
        .runTest(request), to: node, timeout: .milliseconds(test.timeoutMillis) + .seconds(60))
    } catch {
      await perform(.releaseTest(run: runID))
      await run.finish(
        index,
        CheckRunner.Result(
          passed: false, millis: CheckRunner.millis(ContinuousClock.now - started),
          detail: error.message), self)
      return
    }
    await perform(.releaseTest(run: runID))
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
    // What the test printed is kept and shown: never with a secret's value in it.
    await run.finish(
      index,
      CheckRunner.Result(
        passed: ack.ok && outcome?.passed == true,
        millis: outcome?.durationMillis ?? CheckRunner.millis(ContinuousClock.now - started),
        detail: secrets.redact(detail, app: name)),
      self, output: (outcome?.output).map { secrets.redact($0, app: name) })
  }
}

/// A verification as its run fills it in; each change is handed to the lifecycle, so
/// `schedctl verify --show` follows it.
struct VerificationRun {
  var verification: Verification

  init(_ verification: Verification) { self.verification = verification }

  mutating func add(_ step: VerifyStep, _ owner: AppService) async -> Int {
    verification.steps.append(step)
    await owner.perform(.verificationChanged(verification))
    return verification.steps.count - 1
  }

  mutating func retarget(_ index: Int, _ target: String, _ owner: AppService) async {
    verification.steps[index].target = target
    await owner.perform(.verificationChanged(verification))
  }

  mutating func finish(
    _ index: Int, _ result: CheckRunner.Result, _ owner: AppService, output: String? = nil
  ) async {
    verification.steps[index].state = result.passed ? .passed : .failed
    verification.steps[index].durationMillis = result.millis
    verification.steps[index].detail = result.detail
    verification.steps[index].output = output
    await owner.perform(.verificationChanged(verification))
  }

  /// The verdict: passed when every step passed, else the first failure and how many more.
  mutating func end(at: Date) -> Verification {
    let failures = verification.steps.filter { $0.state == .failed }
    verification.state = failures.isEmpty ? .passed : .failed
    verification.finishedAt = at
    verification.summary = failures.first.map {
      "\($0.kind.rawValue) \($0.name) on \($0.target): \($0.detail ?? "failed")"
        + (failures.count > 1 ? " (and \(failures.count - 1) more)" : "")
    }
    return verification
  }
}
