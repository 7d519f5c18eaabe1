import ClusterPKI
import Crypto
import Foundation
import RouteTable
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

@testable import RouterDaemon

/// Whether python3 has the `websockets` package (scripts/test installs it from PyPI).
enum PythonWebSockets {
  static var available: Bool {
    TestEnvironment.has(
      (try? runToEnd(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import websockets"]))?
        .status == 0)
  }
}

/// A router's state file in `dir` naming one app, `web` (host web.test), whose live set is one
/// slot on 127.0.0.1:`upstreamPort`: for a router run alone (`--scheduler none`).
func savedTable(
  upstreamPort: Int, in dir: URL, certificates: EdgeCertificates? = nil
) throws -> String {
  let slot = Upstream(
    slot: SlotID(app: "web", color: .blue, index: 0), address: "127.0.0.1", port: upstreamPort)
  let table = RouteTable(
    epoch: 1,
    apps: [
      AppRoutes(
        app: "web", hosts: ["web.test"],
        live: RouteSet(color: .blue, deployment: "d1", image: "web:1", upstreams: [slot]),
        candidate: nil)
    ])
  let file = dir.appendingPathComponent("routes-\(UUID().uuidString.prefix(8)).json").path
  let saved = SavedRoutes(table: table, cluster: nil, certificates: certificates)
  try JSONEncoder().encode(saved).write(to: URL(fileURLWithPath: file))
  return file
}

extension ProcessSuites {
  /// The built sched-router, alone on a saved table, between a client and a server of a real
  /// WebSocket library (`Tests/websocket/echo_through_router.py`).
  @Suite(
    "WebSockets through sched-router", .timeLimit(.minutes(1)),
    .enabled(
      if: PythonWebSockets.available,
      "python3's websockets package is missing (scripts/test installs it)"))
  struct WebSocketProcessTests {
    @Test(
      "a WebSocket library's client and server talk through the router, both ways, and close; over HTTPS too",
      arguments: [false, true])
    func echoThroughRouter(overTLS: Bool) async throws {
      let dir = temporaryDirectory("websocket")
      let serverPort = freePort()
      let routerPort = freePort()
      var certificates: EdgeCertificates? = nil
      var tlsArguments: [String] = []
      var clientTLS: [String] = []
      if overTLS {
        // The router's certificate for web.test (as the scheduler would have sent it, in the
        // state file), from a CA only the client trusts.
        let authority = try CertificateAuthority.create(now: Date())
        let key = P256.Signing.PrivateKey()
        let leaf = try authority.issueServer(
          key: key.publicKey, names: ["web.test"], now: Date(), validity: 3600)
        certificates = EdgeCertificates(
          version: 1,
          certificates: [
            EdgeCertificate(
              name: "web.test", chain: try leaf.pem, key: key.pemRepresentation,
              notBefore: leaf.notValidBefore, notAfter: leaf.notValidAfter, issuer: "test",
              source: "operator", fingerprint: "test")
          ])
        let caFile = dir.appendingPathComponent("ca.pem").path
        try Data(try authority.certificate.pem.utf8).write(to: URL(fileURLWithPath: caFile))
        tlsArguments = [
          "--tls-listen", "127.0.0.1:\(routerPort)", "--listen", "127.0.0.1:\(freePort())",
        ]
        clientTLS = [caFile, "web.test"]
      } else {
        tlsArguments = ["--listen", "127.0.0.1:\(routerPort)"]
      }
      let file = try savedTable(upstreamPort: serverPort, in: dir, certificates: certificates)
      let router = ManagedProcess(
        "router-ws",
        ["--scheduler", "none", "--name", "edge-ws"] + tlsArguments + [
          "--default-app", "web", "--state-file", file,
        ], logDirectory: dir)
      try router.start()
      defer { router.kill(SIGTERM) }
      // Listening once it accepts a connection.
      #expect(await eventually { acceptsConnections(port: routerPort) })
      let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("websocket/echo_through_router.py").path
      let result = try await run(
        URL(fileURLWithPath: "/usr/bin/env"),
        ["python3", script, "\(serverPort)", "\(routerPort)"] + clientTLS)
      #expect(result.status == 0, "\(result.output)")
      #expect(result.output.contains("PASSED"), "\(result.output)")
    }
  }
}
