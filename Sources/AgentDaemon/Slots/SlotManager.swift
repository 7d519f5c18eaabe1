import AgentCore
import Checks
import Foundation
import Logging
import SchedModel
import SchedWire
import ServiceLifecycle

/// Runs this node's slots: keeps the containers in line with the scheduler's last `assign`,
/// checks their health, and reports both in heartbeats.
///
/// Nothing is reconciled before the first `assign` of the agent's life, so a restarted agent
/// adopts the containers it finds instead of stopping them.
public actor SlotManager: CommandExecutor, Service {
  let node: NodeID
  let runtime: any ContainerRuntime
  let prober: any HealthProber
  let permissions: NodePermissions
  /// The address published ports bind to, and health checks dial.
  let publishAddress: String
  let reconcileInterval: Duration
  let logger: Logger
  /// Gets images from the cluster's store; nil runs only what the engine holds or pulls.
  let puller: ImagePuller?
  /// Where the slots' secret files are kept on this host (0700, files 0444 inside), mounted
  /// read-only into their containers; nil: slots that ask for secret files are refused.
  let secretDirectory: String?

  static let parallelActions = 8

  var desired: [SlotID: SlotAssignment]?
  var observed: [SlotID: ContainerInfo] = [:]
  var trackers: [SlotID: (container: String, tracker: HealthTracker)] = [:]
  /// Why a slot is not running, by slot, for the deployment the problem was met in: a new
  /// deployment of the slot starts with none (an old refusal says nothing of a new image).
  var problems: [SlotID: (deployment: String, health: SlotHealth, message: String)] = [:]
  private var nextCheck: [SlotID: ContinuousClock.Instant] = [:]
  /// Deployments whose container this agent has seen running, per slot: a later create for the
  /// same deployment means the container went missing.
  private var seenRunning: [SlotID: String] = [:]
  private var drift: [DriftReport] = []
  /// Each slot's deployment and health as the last heartbeat reported them.
  var reportedHealth: [SlotID: String] = [:]
  /// The last CPU and memory sample of each running container, by container id.
  var usage: [String: ContainerStats] = [:]
  /// How often containers are sampled (the engine's stats call takes about a second).
  let statsInterval: Duration = .seconds(5)
  private let kick: AsyncStream<Void>.Continuation
  private let kicks: AsyncStream<Void>

  public init(
    node: NodeID, runtime: any ContainerRuntime, prober: any HealthProber,
    permissions: NodePermissions,
    publishAddress: String, reconcileInterval: Duration = .seconds(2),
    puller: ImagePuller? = nil, secretDirectory: String? = nil, logger: Logger
  ) {
    self.secretDirectory = secretDirectory
    self.puller = puller
    self.node = node
    self.runtime = runtime
    self.prober = prober
    self.permissions = permissions
    self.publishAddress = publishAddress
    self.reconcileInterval = reconcileInterval
    self.logger = logger
    (kicks, kick) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
  }

  // MARK: CommandExecutor

  public func execute(_ action: CommandAction) async -> CommandAck {
    switch action {
    case .assign(let body):
      let next = Dictionary(body.slots.map { ($0.slot, $0) }) { _, last in last }
      desired = next
      await puller?.update(body.images, registries: body.registries)
      problems = problems.filter { next[$0.key]?.deployment == $0.value.deployment }
      logger.debug("slots assigned", metadata: ["slots": "\(body.slots.count)"])
      kick.yield()
      return CommandAck(ok: true, message: "assigned \(body.slots.count) slot(s)")
    case .runTest(let request):
      let outcome = await TestRunner(
        runtime: runtime, node: node, logger: logger, puller: puller
      ).run(request)
      let verdict =
        outcome.passed
        ? "passed"
        : outcome.timedOut
          ? "timed out" : outcome.error ?? "failed with code \(outcome.exitCode ?? -1)"
      return CommandAck(
        ok: outcome.passed, message: "test \(request.test.name) \(verdict)", test: outcome)
    case .checkSlot(let request):
      // On this host, at the address the slot's port is published on: a slot a router can
      // reach is one its own host can reach.
      let host = publishAddress.contains(":") ? "[\(publishAddress)]" : publishAddress
      let result = await CheckRunner.run(
        request.check, address: "\(host):\(request.hostPort)", hostHeader: nil, expect: nil)
      return CommandAck(
        ok: result.passed,
        message: "check \(request.check.name) of slot \(request.slot): \(result.detail)",
        check: CheckOutcome(
          passed: result.passed, durationMillis: result.millis, detail: result.detail))
    case .build:
      // Builds go to the agent's BuildRunner, which streams their output.
      return CommandAck(
        ok: false,
        message: "build refused: this node is not a builder (start sched-agent with --builder)")
    }
  }

  public func imagePulls() async -> [ImagePull] { await puller?.report() ?? [] }

  public func takeDrift() -> [DriftReport] {
    defer { drift = [] }
    return drift
  }

  private func noteDrift(_ slot: SlotID?, _ container: String, _ detail: String) {
    logger.info(
      "drift corrected", metadata: ["container.name": "\(container)", "detail": "\(detail)"])
    // Bounded: heartbeats carry it away, but a disconnected agent must not grow without end.
    if drift.count < 100 {
      drift.append(DriftReport(slot: slot, container: container, detail: detail))
    }
  }

  // MARK: Service

  /// Reconciles every interval (and at once after an assign), and runs health checks.
  public func run() async throws {
    // A test run the agent was in the middle of when it stopped: its containers go first.
    await TestRunner(runtime: runtime, node: node, logger: logger).sweep()
    await refreshObserved()
    try await cancelWhenGracefulShutdown {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { await self.reconcileLoop() }
        group.addTask { await self.healthLoop() }
        group.addTask { await self.statsLoop() }
      }
    }
  }

  private func reconcileLoop() async {
    var iterator = kicks.makeAsyncIterator()
    while !Task.isCancelled {
      await reconcile()
      // Wake on an assign or at the next interval, whichever is first.
      let interval = reconcileInterval
      let tick = Task {
        // A cancelled tick must not kick: the loop cancels it whenever an assign woke it first,
        // and a kick from it would wake the next pass at once, and so on without end.
        guard (try? await Task.sleep(for: interval)) != nil else { return }
        self.kick.yield()
      }
      _ = await iterator.next()
      tick.cancel()
    }
  }

  /// Samples every running managed container's CPU and memory, all at once, every interval.
  private func statsLoop() async {
    while !Task.isCancelled {
      let running = observed.values.filter { $0.state == .running }.map(\.id)
      let runtime = self.runtime
      let samples = await withTaskGroup(of: (String, ContainerStats?).self) { group in
        for id in running { group.addTask { (id, try? await runtime.stats(id)) } }
        var out: [String: ContainerStats] = [:]
        for await (id, stats) in group { if let stats { out[id] = stats } }
        return out
      }
      usage = samples
      try? await Task.sleep(for: statsInterval)
    }
  }

  private func healthLoop() async {
    while !Task.isCancelled {
      await checkDueSlots()
      try? await Task.sleep(for: .milliseconds(100))
    }
  }

  // MARK: reconcile

  /// One pass: list managed containers, plan, act. Returns nothing; problems land in statuses.
  func reconcile() async {
    guard await refreshObserved(), let desired else { return }
    let actions = Reconciler.plan(
      desired: Array(desired.values), observed: Array(observedContainers), permissions: permissions,
      publishAddress: publishAddress)
    // Slots are independent: carry out up to `parallelActions` at once, which is what makes
    // a set of N come up in about the time of one.
    await withTaskGroup(of: Void.self) { group in
      var pending = actions[...]
      for _ in 0..<min(Self.parallelActions, pending.count) {
        let action = pending.removeFirst()
        group.addTask { await self.carry(out: action) }
      }
      while await group.next() != nil, let action = pending.popFirst() {
        group.addTask { await self.carry(out: action) }
      }
    }
    if !actions.isEmpty { await refreshObserved() }
  }

  private var observedContainers: [ContainerInfo] { Array(observed.values) + strays }
  private var strays: [ContainerInfo] = []

  @discardableResult
  private func refreshObserved() async -> Bool {
    do {
      let found = try await runtime.list(labels: ManagedLabels.owned(by: node))
      var bySlot: [SlotID: ContainerInfo] = [:]
      var extra: [ContainerInfo] = []
      for container in found {
        guard let slot = ManagedLabels.slot(from: container.labels) else { continue }
        // Inspect (for start time and limits) only what is new or changed since last time.
        var info = container
        if let known = observed[slot], known.id == container.id, known.state == container.state {
          info = known
        } else if let inspected = try? await runtime.inspect(container.id) {
          info = inspected
        }
        if bySlot[slot] == nil { bySlot[slot] = info } else { extra.append(info) }
      }
      observed = bySlot
      strays = extra
      // A start that failed (the engine went away under it) is moot once its container runs:
      // the engine's restart policy may start it without us, and nothing else would clear
      // the problem (the reconciler has nothing to do for a running container).
      for (slot, problem) in problems where problem.health == .exited {
        if let container = bySlot[slot], container.state == .running,
          container.labels[ManagedLabels.deployment] == problem.deployment
        {
          problems[slot] = nil
        }
      }
      return true
    } catch {
      logger.error("cannot list containers", metadata: ["error": "\(error)"])
      return false
    }
  }

  private func carry(out action: SlotAction) async {
    switch action {
    case .create(let assignment):
      if seenRunning[assignment.slot] == assignment.deployment {
        noteDrift(assignment.slot, assignment.containerName, "container was gone; created it again")
      } else {
        logger.info("slot has no container; creating it", metadata: ["slot": "\(assignment.slot)"])
      }
      await create(assignment)
    case .start(let id, let assignment):
      noteDrift(assignment.slot, assignment.containerName, "container was not running; started it")
      do {
        try await runtime.start(id)
        problems[assignment.slot] = nil
      } catch {
        problems[assignment.slot] = (
          assignment.deployment, .exited, "cannot start container: \(error.message)"
        )
      }
    case .replace(let id, let assignment):
      logger.info(
        "slot has a container of another deployment; replacing it",
        metadata: ["slot": "\(assignment.slot)", "container.id": "\(id.prefix(12))"])
      do {
        try await runtime.remove(id)
      } catch {
        problems[assignment.slot] = (
          assignment.deployment, .exited, "cannot remove old container: \(error.message)"
        )
        return
      }
      trackers[assignment.slot] = nil
      await create(assignment)
    case .remove(let id, let name):
      if let slot = ManagedLabels.slot(from: observedLabels(id)), seenRunning[slot] == nil {
        noteDrift(slot, name, "managed container no slot wants; removed it")
      } else {
        logger.info("removing container no slot wants", metadata: ["container.name": "\(name)"])
      }
      if let slot = ManagedLabels.slot(from: observedLabels(id)) { seenRunning[slot] = nil }
      do {
        try await runtime.stop(id, timeout: .seconds(10))
        try await runtime.remove(id)
        if let secretDirectory {
          SecretFiles.remove(Reconciler.secretFiles(in: secretDirectory, container: name))
        }
      } catch {
        logger.error(
          "cannot remove container", metadata: ["container.name": "\(name)", "error": "\(error)"])
      }
    case .refuse(let assignment, let reason, let id):
      if problems[assignment.slot]?.message != reason {
        logger.warning(
          "slot refused", metadata: ["slot": "\(assignment.slot)", "reason": "\(reason)"])
      }
      problems[assignment.slot] = (assignment.deployment, .refused, reason)
      if let id { try? await runtime.remove(id) }
    }
  }

  private func observedLabels(_ id: String) -> [String: String] {
    (observed.values.first { $0.id == id } ?? strays.first { $0.id == id })?.labels ?? [:]
  }

  private func create(_ assignment: SlotAssignment) async {
    let spec = Reconciler.containerSpec(
      for: assignment, node: node, publishAddress: publishAddress,
      secretDirectory: secretDirectory)
    do throws(RuntimeError) {
      if let files = assignment.secretFiles, !files.isEmpty {
        guard let secretDirectory else {
          throw RuntimeError(
            .invalid, "this agent keeps no secret files (it was started without a state directory)")
        }
        try SecretFiles.write(
          files, to: Reconciler.secretFiles(in: secretDirectory, container: spec.name))
      }
      let id: String
      try await puller?.prepare(assignment.image)
      do {
        id = try await runtime.create(spec)
      } catch  where error.code == .notFound {
        try await runtime.ensureImage(assignment.image)
        id = try await runtime.create(spec)
      } catch  where error.code == .conflict {
        // A retried create: the container with this name is already there; adopt it.
        id = try await runtime.inspect(spec.name).id
      }
      try await runtime.start(id)
      problems[assignment.slot] = nil
      trackers[assignment.slot] = nil
      // Health checks of this slot can begin now, not after the whole batch.
      if let info = try? await runtime.inspect(id) { observed[assignment.slot] = info }
    } catch {
      let health: SlotHealth =
        error.code == .notFound || error.code == .invalid ? .refused : .exited
      problems[assignment.slot] = (assignment.deployment, health, error.message)
      logger.error(
        "cannot start slot", metadata: ["slot": "\(assignment.slot)", "error": "\(error)"])
    }
  }

  // MARK: health

  private func checkDueSlots() async {
    guard let desired else { return }
    let now = ContinuousClock.now
    for (slot, assignment) in desired {
      guard problems[slot]?.deployment != assignment.deployment, let container = observed[slot],
        container.labels[ManagedLabels.deployment] == assignment.deployment
      else { continue }
      if let due = nextCheck[slot], due > now { continue }
      nextCheck[slot] = now + .milliseconds(assignment.health.intervalMillis)
      var entry: (container: String, tracker: HealthTracker) =
        trackers[slot].flatMap { $0.container == container.id ? $0 : nil }
        ?? (
          container: container.id,
          tracker: HealthTracker(
            healthyThreshold: assignment.health.healthyThreshold,
            unhealthyThreshold: assignment.health.unhealthyThreshold)
        )
      guard container.state == .running else {
        entry.tracker.exited("container \(container.state.rawValue)")
        trackers[slot] = entry
        continue
      }
      entry.tracker.running()
      seenRunning[slot] = assignment.deployment
      let host = publishAddress
      let failure = await prober.probe(
        host: host, port: assignment.hostPort, path: assignment.health.path,
        timeout: .milliseconds(assignment.health.timeoutMillis))
      if let failure { entry.tracker.failed(failure) } else { entry.tracker.passed() }
      trackers[slot] = entry
      // A starting slot is checked more often than its interval, so it is routed as soon
      // as it answers (a slot re-placed from a dead node is waited for).
      if entry.tracker.health == .starting {
        nextCheck[slot] = now + .milliseconds(min(assignment.health.intervalMillis, 200))
      }
    }
  }

}
