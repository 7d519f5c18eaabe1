import AsyncHTTPClient
import Foundation
import NIOCore
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// schedd, an agent and a router as processes, the sample app on Docker, known traffic
  /// through the router, and Debian's Prometheus scraping schedd's `/metrics` with the token.
  @Suite(
    "Prometheus scrapes /metrics", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine at /var/run/docker.sock"),
    .enabled(
      if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus"),
      "no /usr/bin/prometheus (scripts/test installs Debian's prometheus)"))
  struct MetricsProcessTests {
    let cluster = ProcessCluster("metrics-e2e")
    let app = "mx\(UUID().uuidString.prefix(6).lowercased())"
    var api: APIClient { cluster.api }

    /// Starts Prometheus on 127.0.0.1 scraping schedd every second; terminate it when done.
    func prometheus(port: Int) throws -> Process {
      let dir = temporaryDirectory("prometheus")
      let config = dir.appendingPathComponent("prometheus.yml")
      try """
      global: { scrape_interval: 1s, evaluation_interval: 1s }
      scrape_configs:
        - job_name: turnout
          metrics_path: /metrics
          authorization: { credentials: \(ProcessCluster.apiToken) }
          static_configs: [{ targets: ["127.0.0.1:\(cluster.apiPort)"] }]
      """.write(to: config, atomically: true, encoding: .utf8)
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
      process.arguments = [
        "--config.file=\(config.path)",
        "--storage.tsdb.path=\(dir.appendingPathComponent("data").path)",
        "--web.listen-address=127.0.0.1:\(port)",
      ]
      let log = dir.appendingPathComponent("prometheus.log")
      _ = FileManager.default.createFile(atPath: log.path, contents: nil)
      process.standardOutput = try FileHandle(forWritingTo: log)
      process.standardError = process.standardOutput
      try process.run()
      return process
    }

    /// The value of a PromQL query's single sample, or nil.
    static func query(_ port: Int, _ promql: String) async -> Double? {
      let encoded = promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
      guard
        let fetched = try? await TestHTTP.fetch(
          "http://127.0.0.1:\(port)/api/v1/query?query=\(encoded)"),
        let json = try? JSONSerialization.jsonObject(with: Data(fetched.body.readableBytesView))
          as? [String: Any],
        let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
        result.count == 1, let value = result[0]["value"] as? [Any], value.count == 2,
        let text = value[1] as? String
      else { return nil }
      return Double(text)
    }

    @Test("the scrape succeeds and the series carry the known traffic, nodes, slots and sets")
    func prometheusScrapes() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let agent = cluster.agent("mx1", ports: "29300-29399")
      try agent.start()
      let routerPort = freePort()
      let router = cluster.router("edge-m", port: routerPort)
      try router.start()
      let prometheusPort = freePort()
      let prometheus = try prometheus(port: prometheusPort)
      defer {
        prometheus.terminate()
        prometheus.waitUntilExit()
        router.kill(SIGTERM)
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        ProcessCluster.removeContainers(of: app)
      }
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 1 })
      let host = "\(app).test"
      _ = try await api.apply(ProcessCluster.sampleSpec(app))
      _ = try await api.deploy(app, image: nil)
      #expect(
        await eventually(timeout: .seconds(30)) {
          (try? await api.status(app))?.sets.first?.state == .ready
        })
      #expect(
        await eventually(timeout: .seconds(10)) {
          (try? await api.routers().routers.first?.inSync) == true
        })
      // Known traffic: 20 answers of 200 and 5 of 404, all from blue.
      for path in Array(repeating: "/version", count: 20) + Array(repeating: "/nope", count: 5) {
        _ = try await TestHTTP.fetch(
          "http://127.0.0.1:\(routerPort)\(path)", headers: [("Host", host)])
      }
      let series = "{app=\"\(app)\",color=\"blue\""
      #expect(
        await eventually(timeout: .seconds(30), every: .milliseconds(500)) {
          await Self.query(prometheusPort, "turnout_requests_total\(series),class=\"2xx\"}") == 20
        }, "Prometheus never saw 20 2xx requests; its log is in the temporary folder")
      #expect(
        await Self.query(prometheusPort, "turnout_requests_total\(series),class=\"4xx\"}") == 5)
      #expect(await Self.query(prometheusPort, "up{job=\"turnout\"}") == 1)
      #expect(await Self.query(prometheusPort, "turnout_node_up{node=\"mx1\"}") == 1)
      #expect(
        await Self.query(prometheusPort, "sum(turnout_slot_healthy{app=\"\(app)\"})") == 2)
      #expect(
        await Self.query(prometheusPort, "turnout_set_live{app=\"\(app)\",color=\"blue\"}") == 1)
      #expect(
        await Self.query(prometheusPort, "turnout_node_cpu_capacity_cores{node=\"mx1\"}")
          ?? 0 > 0)
      // Latency is a histogram per router: its count is every request the router answered.
      #expect(
        await Self.query(
          prometheusPort,
          "turnout_request_duration_seconds_count\(series),route=\"production\",router=\"edge-m\"}")
          == 25)
      #expect(await Self.query(prometheusPort, "turnout_routers_in_sync") == 1)
      #expect(await Self.query(prometheusPort, "count(turnout_build_info)") == 1)
      #expect(
        await Self.query(prometheusPort, "turnout_deploys_total{app=\"\(app)\",outcome=\"placed\"}")
          == 1)
      // Debian's promtool on a live scrape: no error, no lint warning.
      let scrape = try await TestHTTP.fetch(
        "http://127.0.0.1:\(cluster.apiPort)/metrics",
        headers: [("Authorization", "Bearer \(ProcessCluster.apiToken)")])
      #expect(scrape.status == 200)
      let file = temporaryDirectory("scrape").appendingPathComponent("metrics.txt")
      try Data(scrape.body.readableBytesView).write(to: file)
      let checked = try await run(
        URL(fileURLWithPath: "/bin/sh"), ["-c", "/usr/bin/promtool check metrics < '\(file.path)'"])
      #expect(checked.status == 0 && checked.output.isEmpty, "promtool: \(checked.output)")
      // The agent samples its containers (Docker stats) and reports them with its heartbeats.
      #expect(
        await eventually(timeout: .seconds(20), every: .milliseconds(500)) {
          (await Self.query(
            prometheusPort,
            "sum(turnout_slot_memory_used_bytes{app=\"\(app)\",color=\"blue\"})") ?? 0) > 100_000
        })
      // Without the token, nothing.
      let anonymous = try await TestHTTP.fetch("http://127.0.0.1:\(cluster.apiPort)/metrics")
      #expect(anonymous.status == 401)
    }
  }
}
