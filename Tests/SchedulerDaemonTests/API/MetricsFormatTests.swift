import BuildInfo
import Foundation
import OperatorAPI
import RouteTable
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

@testable import SchedulerDaemon

/// Issue 14.14: `/metrics` in the conventions Prometheus users check.
@Suite("Metrics format")
struct MetricsFormatTests {
  static let now = Date(timeIntervalSince1970: 1_800_000_000)

  static func snapshot() -> MetricsExport.Snapshot {
    var node = Fixtures.node("n1")
    node.lastHeartbeatAt = now - 1.5
    node.usage = HostUsage(
      cpuUsedMillis: 1500, memoryUsedBytes: 1 << 30, memoryAvailableBytes: 1 << 30)
    let slot = SlotID(app: "web", color: .blue, index: 0)
    var blue = SetTraffic(app: "web", color: .blue)
    for micros: Int64 in [100, 400, 3_000, 20_000_000] { blue.record(.success, micros: micros) }
    blue.record(.proxyError, micros: 700)
    var preview = SetTraffic(app: "web", color: .green, route: .preview)
    preview.record(.success, micros: 200)
    let counters = OperatorCounters()
    counters.switchEnded(app: "web", rollback: false, committed: true, seconds: 0.004)
    counters.switchEnded(app: "web", rollback: true, committed: false, seconds: 5)
    counters.deployAnswered(app: "web", outcome: "placed")
    counters.verificationEnded(app: "web", passed: false)
    return MetricsExport.Snapshot(
      nodes: [node],
      allocations: [
        Allocation(
          slot: slot, node: node.id, hostPort: 20000,
          resources: Resources(cpuMillis: 250, memoryBytes: 64 << 20))
      ],
      reports: [slot: (node.id, SlotStatus(slot: slot, deployment: "d1", health: .healthy))],
      apps: [AppRecord(spec: Fixtures.app("web"), live: .blue, updatedAt: now)],
      sets: [SetRecord(app: "web", color: .blue, deployment: "d1", image: "web:1", createdAt: now)],
      traffic: ["edge-\"1\"": [blue, preview], "edge-2": [SetTraffic(app: "web", color: .blue)]],
      routers: [
        RouterView(
          name: "edge-\"1\"", connected: true, peer: "127.0.0.1:1", epoch: 5, inSync: true,
          reportAgeMillis: 10)
      ],
      counters: counters.snapshot, now: now)
  }

  @Test(
    "latency is a histogram per app, color, route and router; CPU in cores; what operators alert on"
  )
  func families() {
    let text = MetricsExport.text(Self.snapshot())
    let lines = Set(text.split(separator: "\n").map(String.init))
    let blue = #"app="web",color="blue",route="production",router="edge-\"1\"""#
    for expected in [
      "# TYPE turnout_request_duration_seconds histogram",
      "turnout_request_duration_seconds_bucket{\(blue),le=\"0.00025\"} 1",
      "turnout_request_duration_seconds_bucket{\(blue),le=\"0.001\"} 3",
      "turnout_request_duration_seconds_bucket{\(blue),le=\"10\"} 4",
      "turnout_request_duration_seconds_bucket{\(blue),le=\"+Inf\"} 5",
      "turnout_request_duration_seconds_count{\(blue)} 5",
      "turnout_request_duration_seconds_sum{\(blue)} 20.0042",
      "turnout_requests_total{\(blue),class=\"proxy_error\"} 1",
      #"turnout_requests_total{app="web",color="green",route="preview",router="edge-\"1\"",class="2xx"} 1"#,
      #"turnout_node_cpu_capacity_cores{node="n1"} 4"#,
      #"turnout_node_cpu_used_cores{node="n1"} 1.5"#,
      #"turnout_slot_cpu_reserved_cores{app="web",color="blue",slot="0",node="n1"} 0.25"#,
      #"turnout_node_heartbeat_age_seconds{node="n1"} 1.5"#,
      #"turnout_set_ready{app="web",color="blue",deployment="d1"} 1"#,
      "turnout_routers_connected 1",
      #"turnout_router_in_sync{router="edge-\"1\""} 1"#,
      #"turnout_switches_total{app="web",kind="switch",outcome="committed"} 1"#,
      #"turnout_switches_total{app="web",kind="rollback",outcome="aborted"} 1"#,
      #"turnout_switch_duration_seconds_bucket{app="web",kind="switch",le="0.005"} 1"#,
      #"turnout_deploys_total{app="web",outcome="placed"} 1"#,
      #"turnout_verifications_total{app="web",outcome="failed"} 1"#,
      "turnout_build_info{version=\"\(BuildInfo.version)\",commit=\"\(BuildInfo.commit)\"} 1",
    ] {
      #expect(lines.contains(expected), "missing: \(expected)")
    }
    #expect(!text.contains("quantile"))
    #expect(!text.contains("millicores"))
  }

  @Test("Debian's promtool finds nothing to complain of")
  func promtoolAccepts() async throws {
    let promtool = "/usr/bin/promtool"
    guard TestEnvironment.has(FileManager.default.isExecutableFile(atPath: promtool)) else {
      return
    }
    let text = MetricsExport.text(Self.snapshot())
    let file = temporaryDirectory("metrics").appendingPathComponent("metrics.txt")
    try text.write(to: file, atomically: true, encoding: .utf8)
    let result = try await run(
      URL(fileURLWithPath: "/bin/sh"), ["-c", "\(promtool) check metrics < '\(file.path)'"])
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.isEmpty, "promtool: \(result.output)")
  }
}
