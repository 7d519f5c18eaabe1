import Foundation
import Logging
import OperatorAPI
import RouterDaemon
import SchedClient
import SchedTestSupport
import SchedWire
import Testing

/// Issue 14.18: pointed at the wrong port or scheme, each program says what it reached and
/// which address to use.
@Suite("Wrong ports and schemes", .timeLimit(.minutes(1)))
struct WrongPortTests {
  @Test func httpLinesAreToldApart() {
    #expect(WrongPort.isHTTPRequest(Array("GET /v1/nodes HTTP/1.1\r".utf8)))
    #expect(WrongPort.isHTTPRequest(Array("POST /v1/apps/web/deploy HTTP/1.1".utf8)))
    #expect(!WrongPort.isHTTPRequest(Array(#"{"v":1,"type":"hello"}"#.utf8)))
    #expect(WrongPort.isHTTPResponse(Array("HTTP/1.1 400 Bad Request\r".utf8)))
    #expect(!WrongPort.isHTTPResponse(Array(#"{"v":1,"type":"welcome"}"#.utf8)))
  }

  static func schedctl(_ url: String) async throws -> (status: Int32, output: String) {
    var environment = ProcessInfo.processInfo.environment
    environment["TURNOUT_API_TOKEN"] = InProcessScheduler.apiToken
    return try await run(
      ManagedProcess.binDirectory().appendingPathComponent("schedctl"),
      ["nodes", "--scheduler", url], environment: environment)
  }

  @Test("schedctl at the cluster port, at a router, or with https:// says so")
  func schedctlAtTheWrongPlace() async throws {
    let scheduler = try await InProcessScheduler.start()
    var logger = Logger(label: "test.router")
    logger.logLevel = .critical
    let router = try await Router.start(
      config: RouterConfig(name: "lone", schedulerHost: nil, listenPort: 0, threads: 1),
      logger: logger)
    let routerTask = Task { try await router.run() }
    defer { routerTask.cancel() }

    let cluster = try await Self.schedctl("http://127.0.0.1:\(scheduler.clusterPort)")
    #expect(cluster.status == 69, "\(cluster.output)")
    #expect(cluster.output.contains("scheduler's cluster port"), "\(cluster.output)")
    #expect(cluster.output.contains("http://HOST:7070"), "\(cluster.output)")

    let atRouter = try await Self.schedctl("http://127.0.0.1:\(router.proxy.port)")
    #expect(atRouter.status == 69, "\(atRouter.output)")
    #expect(atRouter.output.contains("is a Turnout router"), "\(atRouter.output)")

    let tls = try await Self.schedctl("https://127.0.0.1:\(scheduler.apiPort)")
    #expect(tls.status == 69, "\(tls.output)")
    #expect(
      tls.output.contains("does not answer TLS")
        && tls.output.contains("use http://127.0.0.1:\(scheduler.apiPort)"), "\(tls.output)")
    #expect(!tls.output.contains("BoringSSL"))

    // And the right address works.
    let right = try await Self.schedctl("http://127.0.0.1:\(scheduler.apiPort)")
    #expect(right.status == 0, "\(right.output)")
    await scheduler.stop()
  }

  @Test("an agent pointed at the API port says it is the API port and names the cluster port")
  func agentAtTheAPIPort() async throws {
    let scheduler = try await InProcessScheduler.start()
    let dir = temporaryDirectory("wrong-port")
    let agent = ManagedProcess(
      "agent-wrong",
      [
        "--scheduler", "127.0.0.1:\(scheduler.apiPort)", "--token", InProcessScheduler.joinToken,
        "--name", "wrong", "--runtime", "none", "--max-backoff", "300ms", "--insecure-cluster",
      ], logDirectory: dir)
    try agent.start()
    defer { agent.kill(SIGTERM) }
    let said = await eventually(timeout: .seconds(10)) {
      agent.log.contains("answered in HTTP: it is schedd's API port")
    }
    #expect(said, "\(agent.log.suffix(600))")
    #expect(agent.log.contains("by default 7100"))
    await scheduler.stop()
  }
}
