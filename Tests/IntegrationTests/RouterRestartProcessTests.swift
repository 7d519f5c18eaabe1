import Foundation
import RouteTable
import SchedModel
import SchedTestSupport
import Testing

@testable import RouterDaemon

extension ProcessSuites {
  /// The built sched-router on a saved table in front of a small keep-alive HTTP server
  /// (Python's), under a keep-alive load that reconnects as browsers do: stopped with SIGTERM
  /// and upgraded with SIGUSR2.
  @Suite("sched-router stops and upgrades under load", .serialized, .timeLimit(.minutes(3)))
  struct RouterRestartProcessTests {
    /// A threaded HTTP/1.1 server answering `ok` (after 300 ms on /slow), keeping connections.
    static let backendScript = """
      import http.server, socket, socketserver, sys, time
      class Handler(http.server.BaseHTTPRequestHandler):
          protocol_version = "HTTP/1.1"
          def setup(self):
              super().setup()
              self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
          def do_GET(self):
              if self.path.startswith("/slow"):
                  time.sleep(0.3)
              body = b"ok\\n"
              self.send_response(200)
              self.send_header("content-length", str(len(body)))
              self.end_headers()
              self.wfile.write(body)
          def log_message(self, *args):
              pass
      class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
          daemon_threads = True
          allow_reuse_address = True
          request_queue_size = 256
      Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
      """

    struct Setup {
      let dir: URL
      let backend: Process
      let router: ManagedProcess
      let port: Int
      let stateFile: String

      func stop() {
        router.kill(SIGTERM, grace: .seconds(10))
        // Routers started by upgrades are not our children: found by their unique state file.
        for pid in RouterRestartProcessTests.routerPIDs(stateFile) { kill(pid, SIGKILL) }
        // SIGKILL: the test process's blocked signals are the child's too.
        kill(backend.processIdentifier, SIGKILL)
        backend.waitUntilExit()
      }
    }

    static func start(_ name: String) async throws -> Setup {
      let dir = temporaryDirectory(name)
      let backendPort = freePort()
      let backend = Process()
      backend.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      backend.arguments = ["python3", "-c", backendScript, "\(backendPort)"]
      backend.standardOutput = FileHandle.nullDevice
      backend.standardError = FileHandle.nullDevice
      try backend.run()
      let port = freePort()
      let file = try savedTable(upstreamPort: backendPort, in: dir)
      let router = ManagedProcess(
        "router-\(name)",
        [
          "--scheduler", "none", "--name", "edge", "--listen", "127.0.0.1:\(port)",
          "--state-file", file, "--drain-timeout", "10s",
        ], logDirectory: dir)
      try router.start()
      let setup = Setup(dir: dir, backend: backend, router: router, port: port, stateFile: file)
      let serving = await eventually(timeout: .seconds(15)) {
        (try? await TestHTTP.fetch(
          "http://127.0.0.1:\(port)/", headers: [("host", "web.test")]))?.status == 200
      }
      guard serving else {
        setup.stop()
        throw HarnessError("the router or its backend did not serve: \(router.log)")
      }
      return setup
    }

    /// Live sched-router processes serving `stateFile`.
    static func routerPIDs(_ stateFile: String) -> [pid_t] {
      let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
      return entries.compactMap { Int32($0) }.filter { pid in
        guard
          let command = try? Data(
            contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")),
          String(decoding: command, as: UTF8.self).contains(stateFile)
        else { return false }
        return isAlive(pid)
      }
    }

    /// Running, and not a zombie nobody reaped yet.
    static func isAlive(_ pid: pid_t) -> Bool {
      guard kill(pid, 0) == 0,
        let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }

    @Test("SIGTERM under load: requests in flight are answered, connections close after an answer")
    func drainsAtSigterm() async throws {
      let setup = try await Self.start("drain")
      defer { setup.stop() }
      let load = KeepAliveLoad(port: setup.port, path: "/slow", hostHeader: "web.test")
      load.start(connections: 8, requests: 2_000, for: .seconds(20))
      try await Task.sleep(for: .seconds(1))
      let before = load.snapshot
      let stopped = ContinuousClock.now
      kill(setup.router.pid ?? 0, SIGTERM)
      let code = await setup.router.waitForExit(timeout: .seconds(15))
      let took = ContinuousClock.now - stopped
      try await Task.sleep(for: .milliseconds(300))
      let figures = load.stop()
      print(
        "sched-router SIGTERM: exit \(code.map(String.init) ?? "none") after \(took); \(figures)")
      #expect(code == 0, "\(setup.router.log)")
      #expect(before.ok > 0)
      // Each connection had a /slow request under way: answered, not cut.
      #expect(figures.ok >= before.ok + 8, "\(figures)")
      #expect(figures.broken == 0, "\(figures)")
      #expect(figures.statuses.isEmpty, "\(figures)")
      #expect(took < .seconds(5), "the drain waits for answers of 300 ms, not for a timeout")
      #expect(setup.router.log.contains("drained"), "\(setup.router.log)")
    }

    @Test("20 upgrades (SIGUSR2) under keep-alive load: not one failed request")
    func upgradesWithoutAGap() async throws {
      let setup = try await Self.start("upgrade")
      defer { setup.stop() }
      let load = KeepAliveLoad(port: setup.port, path: "/", hostHeader: "web.test")
      load.start(connections: 8, requests: 2_000_000, for: .seconds(120))
      var current = try #require(setup.router.pid)
      var pids: Set<pid_t> = [current]
      for round in 1...20 {
        let before = load.snapshot.ok
        kill(current, SIGUSR2)
        var next: pid_t?
        let handed = await eventually(timeout: .seconds(20), every: .milliseconds(20)) {
          next = Self.routerPIDs(setup.stateFile).first { $0 != current && !pids.contains($0) }
          return next != nil && !Self.isAlive(current)
        }
        #expect(handed, "round \(round): \(setup.router.log.suffix(2000))")
        guard handed, let next else { break }
        pids.insert(next)
        current = next
        // Traffic flows through the new process before the next round.
        #expect(
          await eventually(timeout: .seconds(5), every: .milliseconds(10)) {
            load.snapshot.ok > before + 50
          })
      }
      let figures = load.stop()
      print("sched-router 20 upgrades under load: \(figures)")
      #expect(pids.count == 21)
      #expect(figures.failed == 0, "\(figures)")
      #expect(figures.ok > 1_000, "\(figures)")
      kill(current, SIGTERM)
      #expect(await eventually(timeout: .seconds(15)) { !Self.isAlive(current) })
    }
  }
}
