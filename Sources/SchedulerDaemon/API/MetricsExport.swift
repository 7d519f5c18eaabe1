import BuildInfo
import Foundation
import OperatorAPI
import RouteTable
import SchedModel
import SchedWire

/// `/metrics`: the cluster as Prometheus reads it, built from one snapshot per scrape, in base
/// units (CPU in cores, memory in bytes, time in seconds). Nodes (capacity, reserved, used, up,
/// heartbeat age), slots (health, reserved and used), sets (live, ready), routers (connected,
/// in sync), each router's traffic per app, color and route (requests by status class, in
/// flight, a latency histogram), switches, deploys and verifications by outcome, and the build.
enum MetricsExport {
  struct Snapshot: Sendable {
    var nodes: [Node]
    var allocations: [Allocation]
    var reports: [SlotID: (node: NodeID, status: SlotStatus)]
    var apps: [AppRecord]
    var sets: [SetRecord]
    /// Each router's traffic, by router name.
    var traffic: [String: [SetTraffic]]
    var routers: [RouterView]
    var counters: OperatorCounters.Snapshot
    var now: Date
    /// The certificates routers serve HTTPS with.
    var certificates: [CertificateView] = []
  }

  static let classLabels: [(StatusClass, String)] = [
    (.success, "2xx"), (.redirect, "3xx"), (.clientError, "4xx"), (.serverError, "5xx"),
    (.proxyError, "proxy_error"),
  ]

  static func text(_ snapshot: Snapshot) -> String {
    var out = PrometheusText()
    out.gauge(
      "turnout_build_info", "the scheduler's version and the commit it was built from",
      [("version", BuildInfo.version), ("commit", BuildInfo.commit)], 1)
    nodes(snapshot, into: &out)
    sets(snapshot, into: &out)
    slots(snapshot, into: &out)
    routers(snapshot, into: &out)
    operations(snapshot.counters, into: &out)
    for certificate in snapshot.certificates {
      out.gauge(
        "turnout_certificate_expiry_seconds",
        "seconds until the certificate routers serve for a name expires (negative: expired)",
        [("name", certificate.name), ("source", certificate.source)],
        certificate.notAfter.timeIntervalSince(snapshot.now).rounded())
    }
    return out.text
  }

  static func cores(_ millis: Int64) -> Double { Double(millis) / 1000 }

  private static func nodes(_ snapshot: Snapshot, into out: inout PrometheusText) {
    for node in snapshot.nodes {
      let labels = [("node", node.id.rawValue)]
      let here = snapshot.allocations.filter { $0.node == node.id }
        .reduce(Resources.zero) { $0 + $1.resources }
      out.gauge("turnout_node_up", "1 when the node is ready", labels, node.state == .ready ? 1 : 0)
      out.gauge(
        "turnout_node_cpu_capacity_cores", "CPU the node offers, in cores", labels,
        cores(node.spec.capacity.cpuMillis))
      out.gauge(
        "turnout_node_memory_capacity_bytes", "memory the node offers", labels,
        Double(node.spec.capacity.memoryBytes))
      out.gauge(
        "turnout_node_cpu_reserved_cores", "CPU reserved by slots, in cores", labels,
        cores(here.cpuMillis))
      out.gauge(
        "turnout_node_memory_reserved_bytes", "memory reserved by slots", labels,
        Double(here.memoryBytes))
      if let usage = node.usage {
        out.gauge(
          "turnout_node_cpu_used_cores", "CPU used on the host, in cores", labels,
          cores(usage.cpuUsedMillis))
        out.gauge(
          "turnout_node_memory_used_bytes", "memory used on the host", labels,
          Double(usage.memoryUsedBytes))
      }
      if let last = node.lastHeartbeatAt {
        out.gauge(
          "turnout_node_heartbeat_age_seconds", "time since the node's last heartbeat", labels,
          max(0, snapshot.now.timeIntervalSince(last)))
      }
    }
  }

  private static func sets(_ snapshot: Snapshot, into out: inout PrometheusText) {
    let live = Dictionary(uniqueKeysWithValues: snapshot.apps.map { ($0.name, $0.live) })
    let ready = Set(snapshot.nodes.filter { $0.state == .ready }.map(\.id))
    for set in snapshot.sets {
      let labels = [
        ("app", set.app), ("color", set.color.rawValue), ("deployment", set.deployment),
      ]
      out.gauge(
        "turnout_set_live", "1 for the set production is routed to", labels,
        live[set.app] == set.color ? 1 : 0)
      let slots = snapshot.allocations.filter {
        $0.slot.app == set.app && $0.slot.color == set.color
      }
      let healthy = slots.filter { allocation in
        guard let report = snapshot.reports[allocation.slot] else { return false }
        return report.node == allocation.node && ready.contains(allocation.node)
          && report.status.deployment == set.deployment && report.status.health == .healthy
      }
      out.gauge(
        "turnout_set_ready", "1 when every slot of the set is healthy (a deploy's outcome)", labels,
        !slots.isEmpty && healthy.count == slots.count ? 1 : 0)
    }
  }

  private static func slots(_ snapshot: Snapshot, into out: inout PrometheusText) {
    for allocation in snapshot.allocations {
      let slot = allocation.slot
      let labels = [
        ("app", slot.app), ("color", slot.color.rawValue), ("slot", String(slot.index)),
        ("node", allocation.node.rawValue),
      ]
      let report = snapshot.reports[slot].flatMap { $0.node == allocation.node ? $0.status : nil }
      out.gauge(
        "turnout_slot_healthy", "1 when the slot passes its health check", labels,
        report?.health == .healthy ? 1 : 0)
      out.gauge(
        "turnout_slot_cpu_reserved_cores", "CPU reserved for the slot, in cores", labels,
        cores(allocation.resources.cpuMillis))
      out.gauge(
        "turnout_slot_memory_reserved_bytes", "memory reserved for the slot", labels,
        Double(allocation.resources.memoryBytes))
      if let cpu = report?.cpuUsedMillis, let memory = report?.memoryUsedBytes {
        out.gauge(
          "turnout_slot_cpu_used_cores", "CPU the slot's container used, in cores", labels,
          cores(cpu))
        out.gauge(
          "turnout_slot_memory_used_bytes", "memory the slot's container used", labels,
          Double(memory))
      }
    }
  }

  private static func routers(_ snapshot: Snapshot, into out: inout PrometheusText) {
    out.gauge(
      "turnout_routers_connected", "routers connected to the scheduler", [],
      Double(snapshot.routers.filter(\.connected).count))
    out.gauge(
      "turnout_routers_in_sync", "connected routers serving the scheduler's current table", [],
      Double(snapshot.routers.filter(\.inSync).count))
    for router in snapshot.routers {
      let labels = [("router", router.name)]
      out.gauge(
        "turnout_router_connected", "1 while the router is connected", labels,
        router.connected ? 1 : 0)
      out.gauge(
        "turnout_router_in_sync", "1 when the router serves the current table", labels,
        router.inSync ? 1 : 0)
    }
    for (router, traffic) in snapshot.traffic.sorted(by: { $0.key < $1.key }) {
      for set in traffic {
        let labels = [
          ("app", set.app), ("color", set.color.rawValue), ("route", set.route.rawValue),
          ("router", router),
        ]
        for (kind, name) in classLabels {
          out.counter(
            "turnout_requests_total", "requests answered, by status class",
            labels + [("class", name)],
            Double(set[kind]))
        }
        out.gauge(
          "turnout_requests_in_flight", "requests being answered now", labels, Double(set.inFlight))
        out.histogram(
          "turnout_request_duration_seconds",
          "time from a request's head to its answer's end, as the router measured it", labels,
          bounds: set.latency.boundsMicros.map { Double($0) / 1_000_000 },
          counts: set.latency.counts, sum: Double(set.latency.sumMicros) / 1_000_000)
      }
    }
  }

  private static func operations(
    _ counters: OperatorCounters.Snapshot, into out: inout PrometheusText
  ) {
    for (key, count) in counters.switches.sorted(by: { $0.key < $1.key }) {
      out.counter(
        "turnout_switches_total",
        "switches and rollbacks since the scheduler started, committed or aborted",
        [("app", key.app), ("kind", key.kind), ("outcome", key.outcome)], Double(count))
    }
    for (key, durations) in counters.switchDurations.sorted(by: { $0.key < $1.key }) {
      out.histogram(
        "turnout_switch_duration_seconds",
        "committed switches and rollbacks, from the command taken to every router's commit",
        [("app", key.app), ("kind", key.kind)], bounds: OperatorCounters.switchBounds,
        counts: durations.counts, sum: durations.sum)
    }
    for (key, count) in counters.deploys.sorted(by: { $0.key < $1.key }) {
      out.counter(
        "turnout_deploys_total", "deploy requests since the scheduler started, by outcome",
        [("app", key.app), ("outcome", key.outcome)], Double(count))
    }
    for (key, count) in counters.verifications.sorted(by: { $0.key < $1.key }) {
      out.counter(
        "turnout_verifications_total", "verifications ended since the scheduler started",
        [("app", key.app), ("outcome", key.outcome)], Double(count))
    }
  }
}
