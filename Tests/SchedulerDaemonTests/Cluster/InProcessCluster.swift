import AgentCore
import AgentDaemon
import Foundation
import Logging
import NIOCore
import OperatorAPI
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import SchedWire
import SchedulerDaemon
import ServiceLifecycle
import WireTransport

/// A scheduler on 127.0.0.1 with ephemeral ports, run in-process for one test.
struct InProcessScheduler {
  let scheduler: Scheduler
  let store: any StateStore
  let task: Task<Void, any Error>
  let group: ServiceGroup
  let apiPort: Int

  static let joinToken = "join-secret"
  static let apiToken = "api-secret"
  static let routerToken = "router-secret"

  static func start(
    heartbeat: Duration = .milliseconds(200), helloTimeout: Duration = .seconds(10),
    store: (any StateStore)? = nil, switchTimeout: Duration = .seconds(5), missedBeats: Int = 3,
    sampleInterval: Duration = .seconds(10), graphite: (host: String, port: Int)? = nil,
    clusterPort: Int = 0, apiPort: Int = 0, timers: any LifecycleTimers = SleepingTimers(),
    configure: (inout SchedulerConfig) -> Void = { _ in }
  ) async throws -> InProcessScheduler {
    let store = store ?? MemoryStore()
    var logger = Logger(label: "test.schedd")
    logger.logLevel =
      ProcessInfo.processInfo.environment["TURNOUT_TEST_DEBUG"] != nil ? .debug : .warning
    var config = SchedulerConfig(
      clusterPort: clusterPort, apiPort: apiPort, databasePath: ":memory:", joinToken: joinToken,
      apiToken: apiToken, heartbeatInterval: heartbeat, missedBeats: missedBeats,
      helloTimeout: helloTimeout,
      commandTimeout: .seconds(5), routerToken: routerToken, switchTimeout: switchTimeout,
      sampleInterval: sampleInterval, graphite: graphite)
    configure(&config)
    let scheduler = try await Scheduler.start(
      config: config, store: store, logger: logger, timers: timers)
    let group = ServiceGroup(services: [scheduler], gracefulShutdownSignals: [], logger: logger)
    let task = Task { try await group.run() }
    let apiPort = try await scheduler.apiPort()
    return InProcessScheduler(
      scheduler: scheduler, store: store, task: task, group: group, apiPort: apiPort)
  }

  var clusterPort: Int { scheduler.clusterPort }

  var api: APIClient {
    APIClient(baseURL: "http://127.0.0.1:\(apiPort)", token: Self.apiToken)
  }

  /// Shuts down as SIGTERM would.
  func stop() async {
    await group.triggerGracefulShutdown()
    _ = await task.result
  }

  /// Starts an in-process agent with a fake probe; cancel the returned task to stop it.
  func startAgent(
    _ id: String, probe: FixedProbe = FixedProbe(),
    executor: any CommandExecutor = NoRuntimeExecutor(),
    token: String = joinToken
  ) -> Task<Void, any Error> {
    var logger = Logger(label: "test.agent.\(id)")
    logger.logLevel = .warning
    let config = AgentConfig(
      schedulerHost: "127.0.0.1", schedulerPort: clusterPort, joinToken: token, node: NodeID(id),
      name: id, advertiseAddress: "127.0.0.1", ports: try! PortRange(low: 20000, high: 20099),
      backoff: Backoff(base: .milliseconds(50), cap: .milliseconds(300)))
    let agent = Agent(config: config, probe: probe, executor: executor, logger: logger)
    return Task { try await agent.run() }
  }

  /// Starts an in-process agent whose slots run on `runtime`; cancel the task to stop both.
  func startRuntimeAgent(
    _ id: String, runtime: any ContainerRuntime, prober: any HealthProber = ScriptedProber(),
    permissions: NodePermissions = NodePermissions(),
    capacity: Resources = Resources(cpuMillis: 2000, memoryBytes: 4 << 30),
    secretDirectory: String? = nil
  ) -> Task<Void, any Error> {
    var logger = Logger(label: "test.agent.\(id)")
    logger.logLevel =
      ProcessInfo.processInfo.environment["TURNOUT_TEST_DEBUG"] != nil ? .debug : .warning
    let slots = SlotManager(
      node: NodeID(id), runtime: runtime, prober: prober, permissions: permissions,
      publishAddress: "127.0.0.1", reconcileInterval: .milliseconds(200),
      secretDirectory: secretDirectory, logger: logger)
    let config = AgentConfig(
      schedulerHost: "127.0.0.1", schedulerPort: clusterPort, joinToken: Self.joinToken,
      node: NodeID(id), name: id, advertiseAddress: "127.0.0.1",
      ports: try! PortRange(low: 20000, high: 20099),
      backoff: Backoff(base: .milliseconds(50), cap: .milliseconds(300)))
    let agent = Agent(
      config: config, probe: FixedProbe(capacity: capacity), executor: slots, logger: logger)
    return Task {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await slots.run() }
        group.addTask { try await agent.run() }
      }
    }
  }

  /// Opens a raw connection for a test that speaks the protocol by hand.
  func withRawConnection<T: Sendable>(_ body: @Sendable (RawConnection) async throws -> T)
    async throws -> T
  {
    try await LineClient.withConnection(
      host: "127.0.0.1", port: clusterPort, maxLineBytes: 4 << 20
    ) { connection in
      try await body(RawConnection(connection: connection))
    }
  }
}

/// A hand-driven client connection: send any bytes, read the next line back.
final class RawConnection: Sendable {
  let connection: LineConnection
  private let reader: AsyncThrowingStream<Frame?, any Error>
  private let task: Task<Void, Never>

  init(connection: LineConnection) {
    self.connection = connection
    let (stream, continuation) = AsyncThrowingStream<Frame?, any Error>.makeStream()
    reader = stream
    task = Task {
      do {
        for try await frame in connection.inbound {
          guard case .line(let bytes) = frame else { continue }
          continuation.yield(try LineCodec.decode(bytes.readableBytesView).get())
        }
        continuation.yield(nil)  // closed by the scheduler
        continuation.finish()
      } catch {
        continuation.yield(nil)
        continuation.finish()
      }
    }
  }

  deinit { task.cancel() }

  func send(_ text: String) async throws {
    try await connection.sendRaw(Array((text + "\n").utf8))
  }

  func send(_ frame: Frame) async throws {
    try await connection.send(frame)
  }

  /// The next frame, or nil when the scheduler closed the connection.
  func next() async throws -> Frame? {
    var iterator = reader.makeAsyncIterator()
    return try await iterator.next() ?? nil
  }

  /// Says hello as router `name` with the router token; whether the scheduler welcomed it.
  func helloAsRouter(_ name: NodeID) async throws -> Bool {
    try await send(
      Frame(
        id: "h",
        .hello(
          Hello(role: .router, versions: [1], node: name, token: InProcessScheduler.routerToken))))
    guard case .welcome = try await next()?.message else { return false }
    return true
  }

  func nextError() async throws -> ErrorReply? {
    guard let frame = try await next(), case .error(let reply) = frame.message else { return nil }
    return reply
  }

  func hello(token: String = InProcessScheduler.joinToken, node: String = "raw") async throws
    -> Frame?
  {
    try await send(
      Frame(id: "h", .hello(Hello(role: .agent, versions: [1], node: NodeID(node), token: token))))
    return try await next()
  }
}

extension InProcessScheduler {
  /// A scheduler sampling every `sampleInterval`, one agent "n1" on a fake runtime, and the
  /// app "web" (2 slots of web:1, whose containers the fake reports at 1 MiB each) deployed:
  /// what the sampling tests measure. Cancel the task to stop the agent.
  static func withDeployedWeb(
    sampleInterval: Duration, graphite: (host: String, port: Int)? = nil
  ) async throws -> (InProcessScheduler, Task<Void, any Error>) {
    let scheduler = try await start(
      heartbeat: .milliseconds(250), missedBeats: 12, sampleInterval: sampleInterval,
      graphite: graphite)
    let agent = scheduler.startRuntimeAgent("n1", runtime: FakeRuntime(images: ["web:1"]))
    let api = scheduler.api
    guard await eventually(timeout: .seconds(10), { (try? await api.nodes().count) == 1 }) else {
      agent.cancel()
      throw ClientError(.unreachable, "agent n1 did not register")
    }
    _ = try await api.apply(Fixtures.quickApp())
    _ = try await api.deploy("web", image: nil)
    return (scheduler, agent)
  }

  /// What the schedctl binary needs in its environment to talk to this scheduler.
  var schedctlEnvironment: [String: String] {
    ProcessInfo.processInfo.environment.merging([
      "TURNOUT_API": "http://127.0.0.1:\(apiPort)", "TURNOUT_API_TOKEN": Self.apiToken,
    ]) { $1 }
  }
}
