import Foundation
import RouteTable
import SchedModel
import SchedTestSupport
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
func savedTable(upstreamPort: Int, in dir: URL) throws -> String {
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
  try TableFile(path: file).write(table)
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
    @Test("a WebSocket library's client and server talk through the router, both ways, and close")
    func echoThroughRouter() async throws {
      let dir = temporaryDirectory("websocket")
      let serverPort = freePort()
      let routerPort = freePort()
      let file = try savedTable(upstreamPort: serverPort, in: dir)
      let router = ManagedProcess(
        "router-ws",
        [
          "--scheduler", "none", "--name", "edge-ws", "--listen", "127.0.0.1:\(routerPort)",
          "--default-app", "web", "--state-file", file,
        ], logDirectory: dir)
      try router.start()
      defer { router.kill(SIGTERM) }
      // Listening once it answers anything (a 502 here: the server is not up yet).
      #expect(
        await eventually {
          (try? await TestHTTP.fetch("http://127.0.0.1:\(routerPort)/")) != nil
        })
      let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("websocket/echo_through_router.py").path
      let result = try await run(
        URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, "\(serverPort)", "\(routerPort)"])
      #expect(result.status == 0, "\(result.output)")
      #expect(result.output.contains("PASSED"), "\(result.output)")
    }
  }
}
