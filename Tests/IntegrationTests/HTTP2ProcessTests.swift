import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// HTTP/2 to clients on the router's HTTPS listener (ALPN), over the same HTTP/1.1 pools to
  /// the slots: curl --http2 reads the app, and h2load keeps streams going while the live
  /// colour flips 20 times.
  @Suite(
    "HTTP/2 at the router", .serialized, .timeLimit(.minutes(4)),
    .enabled(
      if: TestEnvironment.has(
        RuntimeKind.dockerAvailable
          && FileManager.default.isExecutableFile(atPath: "/usr/bin/h2load")),
      "needs dockerd and h2load (Debian's nghttp2-client)"))
  struct HTTP2ProcessTests {
    let cluster = ProcessCluster("http2")
    let app = "h2\(UUID().uuidString.prefix(6).lowercased())"

    var host: String { "\(app).test" }

    @Test("curl --http2 gets the app over h2; h2load sees 0 failed streams over 20 switches")
    func streamsAcrossSwitches() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let agent = cluster.agent("h21", ports: "29600-29699")
      try agent.start()
      let tlsPort = freePort()
      let edge = cluster.router(
        "edge-h2", port: freePort(), previewPort: freePort(), tlsPort: tlsPort)
      try edge.start()
      defer {
        edge.kill(SIGTERM)
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        ProcessCluster.removeContainers(of: app)
      }
      let api = cluster.api
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 1 })
      _ = try await api.apply(ProcessCluster.sampleSpec(app))
      #expect(try await cluster.deployBlueThenGreen(app))
      let verified = try await cluster.schedctl(["verify", app])
      #expect(verified.status == 0, "\(verified.output)")
      let files = try ClusterPKITestCA().files(for: host, in: cluster.workDir)
      let uploaded = try await cluster.schedctl(
        ["cert", "upload", host, "--chain", files.chain, "--key", files.key])
      #expect(uploaded.status == 0, "\(uploaded.output)")

      // curl offers h2 and http/1.1; the router picks h2. Blue (version 1) is live.
      func curl(_ version: String) -> String {
        (try? runToEnd(
          URL(fileURLWithPath: "/usr/bin/curl"),
          [
            "-sS", "--max-time", "5", version, "--cacert", files.ca, "--resolve",
            "\(host):\(tlsPort):127.0.0.1", "-w", " %{http_version} %{http_code}",
            "https://\(host):\(tlsPort)/version",
          ]))?.output.replacingOccurrences(of: "\n", with: "") ?? ""
      }
      #expect(
        await eventually(timeout: .seconds(10)) { curl("--http2") == "1 2 200" },
        "\(curl("--http2"))")
      #expect(curl("--http1.1") == "1 1.1 200", "\(curl("--http1.1"))")

      // h2load for 10 s (4 connections, 10 streams each) while the live colour flips 20 times.
      async let load = run(
        URL(fileURLWithPath: "/usr/bin/h2load"),
        [
          "-D", "10", "-c", "4", "-m", "10", "--connect-to=127.0.0.1:\(tlsPort)",
          "https://\(host):\(tlsPort)/version",
        ])
      try await Task.sleep(for: .milliseconds(800))
      var flips = 0
      for round in 0..<20 {
        if round % 2 == 0 {
          _ = try await api.switchLive(app)
        } else {
          _ = try await api.rollback(app)
        }
        flips += 1
        try await Task.sleep(for: .milliseconds(150))
      }
      let result = try await load
      #expect(flips == 20)
      let figures = H2LoadFigures(result.output)
      #expect(figures.succeeded > 1000, "\(result.output)")
      #expect(
        figures.failed == 0 && figures.errored == 0 && figures.status5xx == 0, "\(result.output)")
      print("HTTP/2 across 20 switches: \(figures)")
    }
  }
}

/// What h2load's summary says: requests done, succeeded, failed, errored, and 5xx answers.
struct H2LoadFigures: CustomStringConvertible {
  var done = 0
  var succeeded = 0
  var failed = -1
  var errored = -1
  var status5xx = -1

  init(_ output: String) {
    for line in output.split(separator: "\n") {
      let words = line.replacingOccurrences(of: ",", with: "").split(separator: " ")
      func number(before word: String) -> Int? {
        words.firstIndex { $0 == word }.flatMap { $0 > 0 ? Int(words[$0 - 1]) : nil }
      }
      if line.hasPrefix("requests:") {
        done = number(before: "done") ?? 0
        succeeded = number(before: "succeeded") ?? 0
        failed = number(before: "failed") ?? -1
        errored = number(before: "errored") ?? -1
      } else if line.hasPrefix("status codes:") {
        status5xx = number(before: "5xx") ?? -1
      }
    }
  }

  var description: String {
    "\(done) streams, \(succeeded) succeeded, \(failed) failed, \(errored) errored, \(status5xx) 5xx"
  }
}
