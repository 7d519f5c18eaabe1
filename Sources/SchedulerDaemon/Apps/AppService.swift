import Foundation
import Lifecycle
import Logging
import OperatorAPI
import SchedModel
import SchedStore
import SchedWire

/// The one owner of the apps' lifecycle in the scheduler: it holds the `Lifecycle` value
/// (whose decisions are written through to the store), feeds it events with what the cluster
/// observes, and carries out the actions it returns through the effects: the store, the
/// nodes (`assign`), the routers (publish, the switch's round, drains) and timers.
public actor AppService {
  let cluster: Cluster
  let store: any StateStore
  let logger: Logger
  let commandTimeout: Duration
  let routers: RouterHub
  /// Where slots whose image the store holds get it from.
  let images: ImageService
  /// The apps' secrets, added to what nodes are sent on the way out.
  let secrets: AppSecrets
  let switchTimeout: Duration
  /// The decisions and each app's state. Changed only by `core.handle`.
  var core: Lifecycle
  /// What `/metrics` exports of switches, deploys and verifications.
  nonisolated let counters = OperatorCounters()
  /// Runs the timers the lifecycle asks for.
  let timers: any LifecycleTimers
  /// Nodes with a push under way, and nodes whose list changed since their push began.
  var pushing: Set<NodeID> = []
  var dirty: Set<NodeID> = []
  /// Passes for cluster changes: those asked for while one runs share one after it.
  let passes = Coalescer()
  /// Deploys and moves waiting for the next batch, and how many batches are under way.
  var placementQueue: [QueuedPlacement] = []
  var batchesRunning = 0
  /// Batches started while another was still being placed or committed (for tests).
  var overlappedBatches = 0

  init(
    cluster: Cluster, routers: RouterHub, images: ImageService, secrets: AppSecrets,
    desired: Desired, timers: any LifecycleTimers, commandTimeout: Duration,
    switchTimeout: Duration, logger: Logger
  ) {
    self.images = images
    self.secrets = secrets
    self.timers = timers
    self.cluster = cluster
    self.store = cluster.store
    self.routers = routers
    self.core = Lifecycle(desired: desired, returnGrace: cluster.policy.graceAfterStart)
    self.commandTimeout = commandTimeout
    self.switchTimeout = switchTimeout
    self.logger = logger
  }

  /// The decisions as the store holds them, to start from.
  static func load(_ store: any StateStore) async throws(StoreError) -> Desired {
    Desired(
      apps: try await store.apps(), sets: try await store.sets(),
      allocations: try await store.allocations())
  }

  // MARK: operations

  public func apply(_ spec: AppSpec, actor: String) async throws(LifecycleError) -> AppRecord {
    guard case .app(let record) = try await request(.apply(spec, actor: actor)) else {
      throw Self.noAnswer
    }
    return record
  }

  public func apps() -> [AppRecord] { core.desired.appList }

  /// One app's record, nil when there is none.
  public func app(named name: String) -> AppRecord? { core.desired.apps[name] }

  /// Places the idle color of `name` from `image`, all or nothing, commits it, and sends the
  /// nodes their slots. Returns once the plan is committed; the set comes up after.
  public func deploy(_ name: String, image: String?, actor: String) async throws(LifecycleError)
    -> DeployResponse
  {
    do throws(LifecycleError) {
      let event = LifecycleEvent.deploy(
        app: name, image: image, actor: actor, deployment: Self.deploymentID(cluster.now()))
      guard case .deployed(let placed) = try await requestBatched(event) else {
        throw Self.noAnswer
      }
      counters.deployAnswered(app: name, outcome: "placed")
      logger.info(
        "deployed",
        metadata: [
          "app.name": "\(name)", "set.color": "\(placed.color.rawValue)",
          "deployment": "\(placed.deployment)",
        ])
      return placed
    } catch {
      let refused = error.code == .conflict || error.code == .invalid
      counters.deployAnswered(app: name, outcome: refused ? "refused" : "failed")
      throw error
    }
  }

  /// Builds a copy of the live set of `name` as its idle color, on `nodes` (one per slot) or,
  /// without them, anywhere but `avoiding`: a rebalance moving the set. Returns once the plan
  /// is committed, like `deploy`.
  public func move(_ name: String, nodes: [NodeID]?, avoiding: Set<NodeID>, actor: String)
    async throws(LifecycleError) -> DeployResponse
  {
    let event = LifecycleEvent.move(app: name, nodes: nodes, avoiding: avoiding, actor: actor)
    guard case .deployed(let placed) = try await requestBatched(event) else {
      throw Self.noAnswer
    }
    logger.info(
      "moved",
      metadata: [
        "app.name": "\(name)", "set.color": "\(placed.color.rawValue)",
        "deployment": "\(placed.deployment)",
      ])
    return placed
  }

  /// The rebalance plan for the cluster as it is now (computed off this actor: a repack of
  /// thousands of sets takes a while).
  public func rebalancePlan() async -> RebalancePlan {
    let busy = core.busyApps(await cluster.observed())
    let desired = core.desired
    let nodes = await cluster.snapshot()
    return await Task.detached { RebalancePlanner.plan(desired, nodes: nodes, busy: busy) }.value
  }

  /// Stops and removes one color's containers and frees its reservations.
  public func stopSet(_ name: String, color: Color, force: Bool = false, actor: String)
    async throws(LifecycleError)
  {
    _ = try await request(.stopSet(app: name, color: color, force: force, actor: actor))
  }

  /// Takes the set that is not live out of every router, waits for its requests in flight (up
  /// to the drain timeout), then stops its containers.
  public func retire(_ name: String, drainTimeoutMillis: Int64?, actor: String)
    async throws(LifecycleError) -> RetireResponse
  {
    let event = LifecycleEvent.retire(
      app: name, drainTimeoutMillis: drainTimeoutMillis, actor: actor)
    guard case .retired(let retired) = try await request(event) else { throw Self.noAnswer }
    return retired
  }

  public func status(_ name: String) async throws(LifecycleError) -> AppStatusResponse {
    let observed = await observe()
    let traffic = await routers.traffic(app: name)
    let epoch = await routers.table.epoch
    return try core.status(name, observed, traffic: traffic, epoch: epoch).get()
  }

  /// Re-placement of down nodes' slots: the brake and the slots that fit nowhere.
  public func replacementStatus() async -> ReplacementStatus {
    core.replacementStatus(await observe())
  }

  /// Re-places down nodes' slots although more than half of the nodes are down, until they
  /// return.
  public func resumeReplacement(actor: String) async throws(LifecycleError) -> ReplacementStatus {
    guard case .replacement(let status) = try await request(.resumeReplacement(actor: actor))
    else { throw Self.noAnswer }
    return status
  }

  /// Apps, sets and allocations as decided now.
  func state() -> Desired { core.desired }

  /// Nodes or their slots changed: the route table may have. Calls made while a pass runs
  /// share the one pass after it (a burst of heartbeats from a thousand nodes is a few
  /// passes, not a thousand); each caller returns once a pass that began after its call ended.
  func clusterChanged() async {
    await passes.run { await self.perform(.observed) }
  }

  // MARK: driving the core

  /// Runs `event` and what follows from it; the reply, or the refusal, of the chain. A caller
  /// that just read the cluster (`observe`) hands that in.
  func request(_ event: LifecycleEvent, observed: Observed? = nil) async throws(LifecycleError)
    -> LifecycleReply
  {
    var answer: Result<LifecycleReply, LifecycleError>?
    await perform(event, observed: observed) { answer = $0 }
    guard let answer else { throw Self.noAnswer }
    return try answer.get()
  }

  /// Feeds `event` to the core and carries out its actions in order; the results of effects
  /// (a write committed, a round ended, a drain answered) go back in as events.
  func perform(
    _ event: LifecycleEvent, observed: Observed? = nil,
    answer: (Result<LifecycleReply, LifecycleError>) -> Void = { _ in }
  ) async {
    let now = if let observed { observed } else { await observe() }
    await execute(core.handle(event, now), answer: answer)
  }

  /// Carries out `actions` in order, feeding the core what each one's outcome is, until none
  /// is left; `answer` hears the reply or refusal.
  func execute(
    _ actions: [LifecycleAction], answer: (Result<LifecycleReply, LifecycleError>) -> Void
  ) async {
    var queue = actions
    var unsynced: LifecycleError?
    while !queue.isEmpty {
      let action = queue.removeFirst()
      switch action {
      case .reply(let reply): answer(.success(reply))
      case .refuse(let error): answer(.failure(error))
      case .persist(let write):
        let next: LifecycleEvent
        do {
          try await commit(write)
          next = .recorded(write)
        } catch {
          logger.error("cannot record a change", metadata: ["error": "\(error)"])
          next = .recordFailed(write, reason: error.message)
        }
        queue += core.handle(next, await observe())
      case .assign(let nodes): Task { await self.push(to: nodes) }
      case .publish(let table): await routers.install(table)
      case .runSwitch(let plan):
        let (outcome, durable) = await runSwitch(plan)
        queue += core.handle(.roundEnded(app: plan.app, outcome), await observe())
        if let durable { unsynced = await syncFailure(plan, durable) }
      case .drain(let app, let color, let timeout):
        let clock = ContinuousClock()
        let started = clock.now
        let left = await routers.drain(app: app, color: color, timeout: .milliseconds(timeout))
        queue += core.handle(
          .drained(app: app, left: left, millis: RouterHub.millis(clock.now - started)),
          await observe())
      case .schedule(let timer, let millis):
        timers.schedule(timer, afterMillis: millis) { [weak self] in await self?.fire(timer) }
      case .cancel(let timer): timers.cancel(timer)
      case .runVerification(let plan): Task { await self.runVerification(plan) }
      }
    }
    // A switch done on every router whose record did not reach the disk is not answered
    // as done.
    if let unsynced { answer(.failure(unsynced)) }
  }

  /// What the cluster shows now: nodes, slot reports, the time.
  func observe() async -> Observed {
    await cluster.observed()
  }

  private func fire(_ timer: LifecycleTimer) async {
    let logger = self.logger
    await perform(.timerFired(timer)) { result in
      if case .failure(let error) = result {
        logger.warning("keep_warm retire failed", metadata: ["error": "\(error)"])
      }
    }
  }

  static let noAnswer = LifecycleError(.failed, "the scheduler did not answer the request")

  /// A deployment's id: `d`, the time in milliseconds and 8 random characters, base 36. The
  /// random part is wide because a batch starts many deploys in the same millisecond: with 16
  /// random bits, 1,500 deploys in a second and a half shared an id in about one run of six.
  static func deploymentID(_ at: Date) -> String {
    let millis = Int64(at.timeIntervalSince1970 * 1000)
    // 36^8: eight base-36 digits, written with their leading zeros.
    let random = String(UInt64.random(in: 0..<2_821_109_907_456), radix: 36)
    return "d" + String(millis, radix: 36) + String(repeating: "0", count: 8 - random.count)
      + random
  }
}
