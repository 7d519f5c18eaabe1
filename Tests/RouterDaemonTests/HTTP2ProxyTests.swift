import Foundation
import Logging
import NIOCore
import RouteTable
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

@testable import RouterDaemon

/// HTTP/2 through the router's HTTPS listener, in process, with curl as the client: many
/// streams on one connection, bodies past every flow-control window both ways, a client that
/// gives up half-way, and the counts that say every stream was finished.
@Suite(
  "HTTP/2 through the router", .serialized,
  .enabled(
    if: TestEnvironment.has(
      FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")),
    "needs curl and openssl"))
struct HTTP2ProxyTests {
  struct Edge {
    let running: ProxyTests.Running
    let directory: URL
    var port: Int { running.router.proxy.tlsPort ?? 0 }
    var ca: String { directory.appendingPathComponent("cert.pem").path }

    /// curl over HTTP/2 (and TLS checked against the test certificate) to `web.test`.
    func curl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
      try await run(
        URL(fileURLWithPath: "/usr/bin/curl"),
        [
          "-sS", "--http2", "--max-time", "20", "--cacert", ca, "--resolve",
          "web.test:\(port):127.0.0.1",
        ] + arguments)
    }

    func url(_ path: String) -> String { "https://web.test:\(port)\(path)" }
  }

  /// A router with a TLS listener and a self-signed certificate for web.test in its state file.
  static func start(_ table: RouteTable, idleTimeout: TimeAmount = .seconds(60)) async throws
    -> Edge
  {
    let directory = temporaryDirectory("h2proxy")
    let cert = directory.appendingPathComponent("cert.pem").path
    let key = directory.appendingPathComponent("key.pem").path
    let made = try await run(
      URL(fileURLWithPath: "/usr/bin/openssl"),
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "2", "-keyout", key, "-out", cert, "-subj", "/CN=web.test",
        "-addext", "subjectAltName=DNS:web.test",
      ])
    #expect(made.status == 0, "\(made.output)")
    let certificate = EdgeCertificate(
      name: "web.test", chain: try String(contentsOfFile: cert, encoding: .utf8),
      key: try String(contentsOfFile: key, encoding: .utf8),
      notBefore: Date(timeIntervalSince1970: 0),
      notAfter: Date().addingTimeInterval(86_400), issuer: "CN=web.test", source: "operator",
      fingerprint: "test")
    let saved = SavedRoutes(
      table: table, cluster: nil,
      certificates: EdgeCertificates(version: 1, certificates: [certificate]))
    let file = directory.appendingPathComponent("routes.json").path
    try JSONEncoder().encode(saved).write(to: URL(fileURLWithPath: file))
    var logger = Logger(label: "test.router")
    logger.logLevel = .warning
    var config = RouterConfig(
      name: "test", schedulerHost: nil, listenPort: 0, stateFile: file, threads: 2,
      idleTimeout: idleTimeout)
    config.tlsPort = 0
    let router = try await Router.start(config: config, logger: logger)
    let running = ProxyTests.Running(
      router: router, task: Task { try await router.run() }, stateFile: file)
    return Edge(running: running, directory: directory)
  }

  /// A backend and a router in front of it for `body`, both stopped after it, also when it
  /// fails.
  static func withEdge(
    idleTimeout: TimeAmount = .seconds(60), _ body: (Edge) async throws -> Void
  ) async throws {
    let backend = try await TestBackend.start("b0")
    let edge: Edge
    do {
      edge = try await start(ProxyTests.table(live: [backend.port]), idleTimeout: idleTimeout)
    } catch {
      await backend.stop()
      throw error
    }
    do { try await body(edge) } catch {
      await edge.running.stop()
      await backend.stop()
      throw error
    }
    await edge.running.stop()
    await backend.stop()
  }

  @Test("many streams on one connection are all answered, counted, and none stays in flight")
  func manyStreams() async throws {
    try await Self.withEdge { edge in
      // 60 transfers in parallel on one multiplexed connection: 40 answered 200, 20 answered 404.
      var arguments = [
        "--parallel", "--parallel-max", "30", "-w", "%{http_version} %{http_code}\n",
      ]
      for index in 0..<60 {
        arguments += ["-o", "/dev/null", edge.url(index % 3 == 2 ? "/status/404" : "/status/200")]
      }
      let result = try await edge.curl(arguments)
      let lines = result.output.split(separator: "\n")
      #expect(lines.filter { $0 == "2 200" }.count == 40, "\(result.output)")
      #expect(lines.filter { $0 == "2 404" }.count == 20, "\(result.output)")
      let blue = try #require(await edge.running.router.proxy.traffic().first { $0.color == .blue })
      #expect(blue.requests == 60)
      #expect(blue[.success] == 40 && blue[.clientError] == 20)
      #expect(blue.inFlight == 0)
    }
  }

  @Test("bodies of megabytes pass both ways intact, past every flow-control window")
  func bodies() async throws {
    try await Self.withEdge { edge in
      let upload = edge.directory.appendingPathComponent("upload")
      let echoed = edge.directory.appendingPathComponent("echoed")
      let payload = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
      try payload.write(to: upload)
      // The stream's and the connection's receive windows are 64 KiB: the router gives them back.
      let sent = try await edge.curl([
        "-o", echoed.path, "-w", "%{http_version} %{http_code}", "--data-binary", "@" + upload.path,
        edge.url("/echo"),
      ])
      #expect(sent.output == "2 200", "\(sent.output)")
      #expect(try Data(contentsOf: echoed) == payload)
      // 12 MiB down: far past the client's window, so DATA waits on its WINDOW_UPDATEs.
      let big = edge.directory.appendingPathComponent("big")
      let fetched = try await edge.curl([
        "-o", big.path, "-w", "%{http_version} %{http_code} %{size_download}",
        edge.url("/big?n=\(12 << 20)"),
      ])
      #expect(fetched.output == "2 200 \(12 << 20)", "\(fetched.output)")
      let blue = try #require(await edge.running.router.proxy.traffic().first { $0.color == .blue })
      #expect(blue.requests == 2 && blue[.success] == 2 && blue.inFlight == 0)
    }
  }

  /// A client that opens an HTTP/2 connection and never a stream: the preface and SETTINGS
  /// by hand (Python's ssl, ALPN h2), then it reads until the router closes.
  static let idleClient = """
    import socket, ssl, sys, time
    port, ca = int(sys.argv[1]), sys.argv[2]
    context = ssl.create_default_context(cafile=ca)
    context.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", port))
    tls = context.wrap_socket(raw, server_hostname="web.test")
    assert tls.selected_alpn_protocol() == "h2", tls.selected_alpn_protocol()
    tls.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
    tls.settimeout(15)
    started, data = time.monotonic(), b""
    while True:
        chunk = tls.recv(4096)
        if not chunk:
            break
        data += chunk
    frames, offset = [], 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        frames.append(data[offset + 3])
        offset += 9 + length
    print("closed after %.1f s, frame types %s" % (time.monotonic() - started, frames))
    """

  @Test("a connection with no stream for the idle timeout gets GOAWAY and is closed")
  func idleConnection() async throws {
    try await Self.withEdge(idleTimeout: .seconds(1)) { edge in
      let result = try await run(
        URL(fileURLWithPath: "/usr/bin/python3"),
        ["-c", Self.idleClient, String(edge.port), edge.ca])
      #expect(result.status == 0, "\(result.output)")
      // 7 is GOAWAY (after the router's SETTINGS, 4); closed within the timeout and a sweep.
      let line = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
      #expect(line.hasSuffix("7]"), "\(line)")
      let seconds = Double(line.split(separator: " ")[2]) ?? 99
      #expect(seconds >= 0.9 && seconds < 5, "\(line)")
    }
  }

  @Test("a client that gives up half-way through an answer leaves nothing in flight")
  func abandoned() async throws {
    try await Self.withEdge { edge in
      // 256 MiB at 1 MiB/s with a 1 s limit: curl resets the stream (and leaves) mid-body.
      let cut = try await edge.curl([
        "-o", "/dev/null", "--limit-rate", "1M", "--max-time", "1",
        edge.url("/big?n=\(256 << 20)"),
      ])
      #expect(cut.status == 28, "curl should time out: \(cut.output)")
      let left = await eventually(timeout: .seconds(5)) {
        await edge.running.router.proxy.traffic().first { $0.color == .blue }?.inFlight == 0
      }
      #expect(left)
      // The router serves the next client as before.
      let next = try await edge.curl(["-o", "/dev/null", "-w", "%{http_code}", edge.url("/")])
      #expect(next.output == "200", "\(next.output)")
    }
  }
}
