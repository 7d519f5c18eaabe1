import Foundation
import Prometheus
import RouteTable
import SchedModel

/// `/metrics`: the cluster as Prometheus reads it, built from one snapshot per scrape. Nodes
/// (capacity, reserved, used, up), slots (health, reserved resources), sets (live), and the
/// routers' traffic per app and color (requests by status class, in flight, latency
/// quantiles), summed over routers.
enum MetricsExport {
  struct Snapshot: Sendable {
    var nodes: [Node]
    var allocations: [Allocation]
    var reports: [SlotID: (node: NodeID, status: SlotStatus)]
    var apps: [AppRecord]
    var sets: [SetRecord]
    var traffic: [SetTraffic]
  }

  static let classLabels: [(StatusClass, String)] = [
    (.success, "2xx"), (.redirect, "3xx"), (.clientError, "4xx"), (.serverError, "5xx"),
    (.proxyError, "proxy_error"),
  ]

  static func text(_ snapshot: Snapshot) -> String {
    let registry = PrometheusCollectorRegistry()
    for node in snapshot.nodes {
      let labels = [("node", node.id.rawValue)]
      let here = snapshot.allocations.filter { $0.node == node.id }
        .reduce(Resources.zero) { $0 + $1.resources }
      gauge(registry, "turnout_node_up", "1 when the node is ready", labels)
        .set(node.state == .ready ? 1.0 : 0.0)
      gauge(registry, "turnout_node_cpu_capacity_millicores", "CPU the node offers", labels)
        .set(Double(node.spec.capacity.cpuMillis))
      gauge(registry, "turnout_node_memory_capacity_bytes", "memory the node offers", labels)
        .set(Double(node.spec.capacity.memoryBytes))
      gauge(registry, "turnout_node_cpu_reserved_millicores", "CPU reserved by slots", labels)
        .set(Double(here.cpuMillis))
      gauge(registry, "turnout_node_memory_reserved_bytes", "memory reserved by slots", labels)
        .set(Double(here.memoryBytes))
      if let usage = node.usage {
        gauge(registry, "turnout_node_cpu_used_millicores", "CPU used on the host", labels)
          .set(Double(usage.cpuUsedMillis))
        gauge(registry, "turnout_node_memory_used_bytes", "memory used on the host", labels)
          .set(Double(usage.memoryUsedBytes))
      }
    }
    let live = Dictionary(uniqueKeysWithValues: snapshot.apps.map { ($0.name, $0.live) })
    for set in snapshot.sets {
      gauge(
        registry, "turnout_set_live", "1 for the set production is routed to",
        [("app", set.app), ("color", set.color.rawValue), ("deployment", set.deployment)]
      ).set(live[set.app] == set.color ? 1.0 : 0.0)
    }
    for allocation in snapshot.allocations {
      let slot = allocation.slot
      let labels = [
        ("app", slot.app), ("color", slot.color.rawValue), ("slot", String(slot.index)),
        ("node", allocation.node.rawValue),
      ]
      let report = snapshot.reports[slot].flatMap { $0.node == allocation.node ? $0.status : nil }
      gauge(registry, "turnout_slot_healthy", "1 when the slot passes its health check", labels)
        .set(report?.health == .healthy ? 1.0 : 0.0)
      gauge(registry, "turnout_slot_cpu_reserved_millicores", "CPU reserved for the slot", labels)
        .set(Double(allocation.resources.cpuMillis))
      if let cpu = report?.cpuUsedMillis, let memory = report?.memoryUsedBytes {
        gauge(
          registry, "turnout_slot_cpu_used_millicores", "CPU the slot's container used", labels
        ).set(Double(cpu))
        gauge(
          registry, "turnout_slot_memory_used_bytes", "memory the slot's container used", labels
        ).set(Double(memory))
      }
      gauge(registry, "turnout_slot_memory_reserved_bytes", "memory reserved for the slot", labels)
        .set(Double(allocation.resources.memoryBytes))
    }
    for traffic in snapshot.traffic {
      let labels = [("app", traffic.app), ("color", traffic.color.rawValue)]
      for (kind, name) in classLabels {
        registry.makeCounter(
          descriptor: descriptor(
            "turnout_requests_total", "requests answered, by status class, summed over routers"),
          labels: labels + [("class", name)]
        ).increment(by: traffic[kind])
      }
      gauge(registry, "turnout_requests_in_flight", "requests being answered now", labels)
        .set(Double(traffic.inFlight))
      for quantile in [0.5, 0.99] {
        if let micros = traffic.latency.quantileMicros(quantile) {
          gauge(
            registry, "turnout_request_latency_seconds",
            "latency quantile (upper bound of its bucket), since the routers started",
            labels + [("quantile", String(quantile))]
          ).set(Double(micros) / 1_000_000)
        }
      }
    }
    return registry.emitToString()
  }

  private static func gauge(
    _ registry: PrometheusCollectorRegistry, _ name: String, _ help: String,
    _ labels: [(String, String)]
  ) -> Gauge {
    registry.makeGauge(descriptor: descriptor(name, help), labels: labels)
  }

  /// A whole metric name as it is exposed (the unit is already part of it).
  private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
  }
}
