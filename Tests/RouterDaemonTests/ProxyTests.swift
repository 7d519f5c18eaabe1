import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import RouteTable
import SchedModel
import SchedTestSupport
import Testing

@testable import RouterDaemon

#if canImport(Glibc)
  import Glibc
#endif

/// sched-router's proxy in-process, alone on a saved route table, in front of test backends.
@Suite("Router proxy", .timeLimit(.minutes(1)))
struct ProxyTests {
  struct Running {
    let router: Router
    let task: Task<Void, any Error>
    let stateFile: String

    var url: String { "http://127.0.0.1:\(router.proxy.port)" }
    var previewURL: String {
      "http://\(router.config.previewHost):\(router.proxy.previewPort ?? 0)"
    }

    func stop() async {
      task.cancel()
      _ = await task.result
    }
  }

  static func start(
    _ table: RouteTable, stateFile: String? = nil, previewHeader: String? = nil,
    stamp: Bool = true, defaultApp: String? = nil, maxHeaderBytes: Int = 32 * 1024,
    idleTimeout: TimeAmount = .seconds(60), previewHost: String? = nil
  ) async throws -> Running {
    let file = stateFile ?? temporaryDirectory("proxy").appendingPathComponent("routes.json").path
    if stateFile == nil { try TableFile(path: file).write(table) }
    var logger = Logger(label: "test.router")
    logger.logLevel = .warning
    let config = RouterConfig(
      name: "test", schedulerHost: nil, listenPort: 0, previewHost: previewHost, previewPort: 0,
      previewHeader: previewHeader, defaultApp: defaultApp, stateFile: file,
      stampResponses: stamp, threads: 2, maxHeaderBytes: maxHeaderBytes, idleTimeout: idleTimeout)
    let router = try await Router.start(config: config, logger: logger)
    return Running(router: router, task: Task { try await router.run() }, stateFile: file)
  }

  static func upstream(_ app: String, _ color: Color, _ index: Int, port: Int) -> Upstream {
    Upstream(slot: SlotID(app: app, color: color, index: index), address: "127.0.0.1", port: port)
  }

  static func table(
    epoch: Int64 = 10, app: String = "web", hosts: [String] = ["web.test"], live: [Int],
    candidate: [Int] = [], extraApps: [AppRoutes] = []
  ) -> RouteTable {
    RouteTable(
      epoch: epoch,
      apps: [
        AppRoutes(
          app: app, hosts: hosts,
          live: RouteSet(
            color: .blue, deployment: "d1", image: "web:1",
            upstreams: live.enumerated().map { upstream(app, .blue, $0.offset, port: $0.element) }),
          candidate: candidate.isEmpty
            ? nil
            : RouteSet(
              color: .green, deployment: "d2", image: "web:2",
              upstreams: candidate.enumerated().map {
                upstream(app, .green, $0.offset, port: $0.element)
              }))
      ] + extraApps)
  }

  /// Accepts TCP connections, counts them and keeps them open.
  final class CountingListener: Sendable {
    let channel: any Channel
    let children: NIOLockedValueBox<[any Channel]>
    var port: Int { channel.localAddress?.port ?? 0 }
    var accepted: Int { children.withLockedValue { $0.count } }

    init() async throws {
      let children = NIOLockedValueBox<[any Channel]>([])
      self.children = children
      channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
          children.withLockedValue { $0.append(channel) }
          return channel.eventLoop.makeSucceededVoidFuture()
        }
        .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Closes every accepted connection and the listener.
    func close() async {
      for child in children.withLockedValue({ $0 }) { try? await child.close() }
      try? await channel.close()
    }
  }

  @Test("a prepare's warm-up opens a connection on every loop once, then needs no hop")
  func warmsEveryLoopOnce() async throws {
    let blue = try await TestBackend.start("blue")
    let green = try await CountingListener()
    let running = try await Self.start(Self.table(live: [blue.port]))
    let next = Self.table(epoch: 11, live: [green.port])
    let proxy = running.router.proxy
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    try await proxy.warm(next, on: loop).get()
    let key = PoolKey(next.apps[0].live!.upstreams[0])
    #expect(await eventually { green.accepted == 2 })  // 2 loops
    #expect(proxy.contexts.values.allSatisfy { $0.connected.withLockedValue { $0.contains(key) } })
    // Both loops hold a connection: a second prepare of the same table opens none.
    try await proxy.warm(next, on: loop).get()
    try await Task.sleep(for: .milliseconds(100))
    #expect(green.accepted == 2)
    // When the upstream closes them, the loops forget them.
    await green.close()
    #expect(
      await eventually {
        proxy.contexts.values.allSatisfy { !$0.connected.withLockedValue { $0.contains(key) } }
      })
    await running.stop()
    await blue.stop()
  }

  @Test("routes by Host to the live set, balances over its slots, stamps every response")
  func routesAndStamps() async throws {
    let b0 = try await TestBackend.start("b0")
    let b1 = try await TestBackend.start("b1")
    let other = AppRoutes(
      app: "api", hosts: ["api.test"],
      live: RouteSet(
        color: .green, deployment: "d9", image: "api:3",
        upstreams: [Self.upstream("api", .green, 0, port: b1.port)]))
    let running = try await Self.start(
      Self.table(live: [b0.port, b1.port], extraApps: [other]))
    var seen: [String] = []
    for _ in 0..<4 {
      let response = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "web.test")])
      #expect(response.status == 200)
      #expect(response.headers["x-turnout-color"] == "blue")
      #expect(response.headers["x-turnout-image"] == "web:1")
      #expect(response.headers["x-turnout-deployment"] == "d1")
      #expect(response.headers["x-turnout-slot"] == "web/blue/\(response.text == "b0" ? 0 : 1)")
      #expect(response.headers["x-saw-forwarded-for"] == "127.0.0.1")
      seen.append(response.text)
    }
    #expect(Set(seen) == ["b0", "b1"])
    #expect(seen.filter { $0 == "b0" }.count == 2)

    let api = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "API.test:8080")])
    #expect(api.text == "b1")
    #expect(api.headers["x-turnout-color"] == "green")

    let unknown = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "nobody.test")])
    #expect(unknown.status == 404)
    #expect(unknown.headers["x-turnout-error"] == "router")
    #expect(unknown.text.contains("no app is routed for host 'nobody.test'"))
    await running.stop()
    await b0.stop()
    await b1.stop()
  }

  @Test("stamping can be turned off; a default app takes requests for unknown hosts")
  func noStampAndDefaultApp() async throws {
    let b0 = try await TestBackend.start("b0")
    let running = try await Self.start(
      Self.table(live: [b0.port]), stamp: false, defaultApp: "web")
    let response = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "x.test")])
    #expect(response.text == "b0")
    #expect(response.headers["x-turnout-color"] == nil)
    #expect(response.headers["x-turnout-slot"] == nil)
    await running.stop()
    await b0.stop()
  }

  @Test("a slot that refuses connections is retried on another; none left answers 502")
  func retriesAnotherSlot() async throws {
    let b0 = try await TestBackend.start("b0")
    let dead = freePort()
    let running = try await Self.start(Self.table(live: [dead, b0.port]))
    for _ in 0..<10 {
      let response = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "web.test")])
      #expect(response.status == 200)
      #expect(response.text == "b0")
    }
    #expect(try running.router.routes.install(Self.table(epoch: 11, live: [dead, freePort()])))
    let failed = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "web.test")])
    #expect(failed.status == 502)
    #expect(failed.headers["x-turnout-error"] == "router")
    let traffic = await running.router.proxy.traffic()
    let blue = try #require(traffic.first { $0.app == "web" && $0.color == .blue })
    #expect(blue.requests == 11)
    #expect(blue[.success] == 10)
    #expect(blue[.proxyError] == 1)
    #expect(blue.inFlight == 0)
    await running.stop()
    await b0.stop()
  }

  @Test("request and response bodies of many megabytes stream through intact")
  func streamsBodies() async throws {
    let b0 = try await TestBackend.start("b0")
    let running = try await Self.start(Self.table(live: [b0.port]))
    let payload = ByteBuffer(bytes: (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    let echoed = try await TestHTTP.fetch(
      running.url + "/echo", method: .POST, headers: [("Host", "web.test")], body: payload)
    #expect(echoed.status == 200)
    #expect(echoed.body == payload)
    let big = try await TestHTTP.fetch(
      running.url + "/big?n=\(12 << 20)", headers: [("Host", "web.test")])
    #expect(big.body.readableBytes == 12 << 20)
    await running.stop()
    await b0.stop()
  }

  @Test(
    "Expect: 100-continue is answered by the router, so the client sends its body at once",
    .enabled(if: TestEnvironment.has(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")))
  )
  func expectContinue() async throws {
    let b0 = try await TestBackend.start("b0")
    let running = try await Self.start(Self.table(live: [b0.port]))
    let dir = temporaryDirectory("expect")
    let body = dir.appendingPathComponent("body")
    try Data(repeating: 65, count: 300_000).write(to: body)
    let curl = Process()
    curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    curl.arguments = [
      "-s", "-o", dir.appendingPathComponent("out").path, "-w", "%{http_code}",
      "-H", "Host: web.test", "-H", "Expect: 100-continue", "--expect100-timeout", "5",
      "--data-binary", "@" + body.path, running.url + "/echo",
    ]
    let pipe = Pipe()
    curl.standardOutput = pipe
    let started = ContinuousClock.now
    try curl.run()
    let code = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    curl.waitUntilExit()
    #expect(code == "200")
    // Without the router's 100 Continue curl would wait its 5 s expect timeout.
    #expect(ContinuousClock.now - started < .seconds(4))
    #expect(try Data(contentsOf: dir.appendingPathComponent("out")).count == 300_000)
    await running.stop()
    await b0.stop()
  }

  /// Sends raw bytes on one connection and reads until it closes (or 3 s pass).
  static func raw(_ port: Int, _ text: String) throws -> String {
    let connection = try Conversation(port: port)
    connection.send(text)
    _ = connection.readToEnd()
    return connection.received
  }

  @Test("pipelined requests are answered in order on one connection; garbage gets 400")
  func pipeliningAndBadRequests() async throws {
    let b0 = try await TestBackend.start("b0")
    let running = try await Self.start(Self.table(live: [b0.port]))
    let port = running.router.proxy.port
    let answers = try Self.raw(
      port,
      "GET /status/404 HTTP/1.1\r\nHost: web.test\r\n\r\n"
        + "GET /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 5\r\n\r\nhello"
        + "GET / HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n")
    // Bodies have no line end, so the next status line follows a body directly.
    let statuses = answers.components(separatedBy: "HTTP/1.1 ").dropFirst().map {
      $0.components(separatedBy: "\r\n")[0]
    }
    #expect(statuses == ["404 Not Found", "200 OK", "200 OK"])
    #expect(answers.contains("hello"))
    #expect(answers.hasSuffix("b0"))
    let bad = try Self.raw(port, "GET / HTTP/1.1\r\nHost: web.test\r\nContent-Length: zz\r\n\r\n")
    #expect(bad.hasPrefix("HTTP/1.1 400 Bad Request"))
    #expect(bad.lowercased().contains("x-turnout-error: router"))
    await running.stop()
    await b0.stop()
  }

  /// The head and body of the single answer in `text`.
  static func split(_ text: String) -> (head: String, body: String) {
    let parts = text.components(separatedBy: "\r\n\r\n")
    return (parts[0].lowercased(), parts.dropFirst().joined(separator: "\r\n\r\n"))
  }

  @Test("chunked bodies both ways, HEAD, HTTP/1.0 clients and smuggling attempts")
  func framing() async throws {
    let b0 = try await TestBackend.start("b0")
    let running = try await Self.start(Self.table(live: [b0.port]))
    let port = running.router.proxy.port
    let upload = try Self.raw(
      port,
      "POST /echo HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n"
        + "Connection: close\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n")
    #expect(upload.hasPrefix("HTTP/1.1 200 OK"))
    #expect(Self.split(upload).body == "hello world")

    let chunked = try await TestHTTP.fetch(
      running.url + "/chunked?n=300000", headers: [("Host", "web.test")])
    #expect(chunked.body.readableBytes == 300_000)
    #expect(chunked.headers["transfer-encoding"] == "chunked")

    // An HTTP/1.0 client cannot read chunks: it gets the data alone, ended by the close.
    let old = Self.split(
      try Self.raw(port, "GET /chunked?n=1000 HTTP/1.0\r\nHost: web.test\r\n\r\n"))
    #expect(old.body == String(repeating: "x", count: 1000))
    #expect(!old.head.contains("transfer-encoding"))
    #expect(old.head.contains("connection: close"))

    // The answer to HEAD has a length but no body; the next request on the connection follows.
    let heads = try Self.raw(
      port,
      "HEAD /big?n=100 HTTP/1.1\r\nHost: web.test\r\n\r\n"
        + "GET / HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n")
    #expect(heads.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
    #expect(heads.lowercased().contains("content-length: 100\r\n"))
    #expect(heads.hasSuffix("b0"))

    // A length next to a transfer coding could be framed two ways: refused before any slot.
    let smuggled = try Self.raw(
      port,
      "POST /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 6\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /status/500 HTTP/1.1\r\nHost: web.test\r\n\r\n"
    )
    #expect(smuggled.hasPrefix("HTTP/1.1 400 Bad Request"))
    #expect(!smuggled.contains("500"))
    await running.stop()
    await b0.stop()
  }

  @Test("an answer the upstream ends by closing reaches the client whole, then the close")
  func closeDelimitedAnswer() async throws {
    let backend = try await RawBackend.start(
      answer: "HTTP/1.0 200 OK\r\nX-Old: yes\r\n\r\nthe body ends at the close")
    let running = try await Self.start(Self.table(live: [backend.port]))
    let answer = Self.split(
      try Self.raw(running.router.proxy.port, "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n"))
    #expect(answer.head.hasPrefix("http/1.1 200 ok"))
    #expect(answer.head.contains("x-old: yes"))
    #expect(answer.head.contains("connection: close"))
    #expect(answer.body == "the body ends at the close")
    await running.stop()
    await backend.stop()
  }

  @Test("a client connection idle longer than the idle timeout is closed by the router")
  func idleTimeout() async throws {
    let running = try await Self.start(
      Self.table(live: [freePort()]), idleTimeout: .milliseconds(300))
    let started = ContinuousClock.now
    let answer = try Self.raw(running.router.proxy.port, "")
    #expect(answer.isEmpty)
    // Closed by the router, well before the test's own 3 s read timeout.
    #expect(ContinuousClock.now - started < .seconds(2))
    await running.stop()
  }

  @Test("a request head over the limit is answered 431 and never reaches a slot")
  func headerLimit() async throws {
    let b0 = try await TestBackend.start("b0")
    let running = try await Self.start(Self.table(live: [b0.port]), maxHeaderBytes: 4096)
    let big = try await TestHTTP.fetch(
      running.url + "/",
      headers: [("Host", "web.test"), ("X-Big", String(repeating: "a", count: 5000))])
    #expect(big.status == 431)
    let fine = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "web.test")])
    #expect(fine.status == 200)
    await running.stop()
    await b0.stop()
  }
}
