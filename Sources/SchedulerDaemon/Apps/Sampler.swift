import Foundation
import Logging
import RouteTable
import SchedModel
import SchedStore

/// Every interval, turns the cluster's state into samples and stores them downsampled
/// (`Retention.standard`: 10 s points for a day, 1 min points for 30 days). Series:
/// `node/NODE/cpu|memory` (host usage), `set/APP/COLOR/cpu|memory` (its containers, summed),
/// `set/APP/COLOR/requests|2xx|3xx|4xx|5xx|proxy_error` (per second over the interval, from the
/// routers' counters).
actor Sampler {
  let cluster: Cluster
  let routers: RouterHub
  let store: any StateStore
  let retention: Retention
  let logger: Logger
  let sinks: [any MetricSink]
  /// The routers' counters at the last sample, to turn totals into rates.
  private var lastCounts: [String: Int64] = [:]
  private var lastAt: Int64?

  init(
    cluster: Cluster, routers: RouterHub, retention: Retention = .standard,
    sinks: [any MetricSink] = [], logger: Logger
  ) {
    self.sinks = sinks
    self.cluster = cluster
    self.routers = routers
    self.store = cluster.store
    self.retention = retention
    self.logger = logger
  }

  /// Takes and stores one round of samples at `now` (unix seconds).
  func sample(now: Int64) async {
    var samples: [Sample] = []
    for node in await cluster.snapshot() {
      guard let usage = node.usage, node.state == .ready else { continue }
      samples.append(
        Sample(
          series: SeriesName.node(node.id.rawValue, "cpu"), at: now,
          value: Double(usage.cpuUsedMillis)))
      samples.append(
        Sample(
          series: SeriesName.node(node.id.rawValue, "memory"), at: now,
          value: Double(usage.memoryUsedBytes)))
    }
    var perSet: [SetKey: (cpu: Int64, memory: Int64)] = [:]
    for (slot, report) in await cluster.slotStatuses() {
      guard let cpu = report.status.cpuUsedMillis, let memory = report.status.memoryUsedBytes
      else { continue }
      let key = SetKey(app: slot.app, color: slot.color)
      let sum = perSet[key] ?? (0, 0)
      perSet[key] = (sum.cpu + cpu, sum.memory + memory)
    }
    for (key, sum) in perSet {
      samples.append(
        Sample(series: SeriesName.set(key.app, key.color, "cpu"), at: now, value: Double(sum.cpu)))
      samples.append(
        Sample(
          series: SeriesName.set(key.app, key.color, "memory"), at: now, value: Double(sum.memory)))
    }
    var counts: [String: Int64] = [:]
    // Production traffic: what a set served its users (checks on the preview route are not).
    for traffic in await routers.allTraffic where traffic.route == .production {
      counts[SeriesName.set(traffic.app, traffic.color, "requests")] = traffic.requests
      for (kind, name) in MetricsExport.classLabels {
        counts[SeriesName.set(traffic.app, traffic.color, name)] = traffic[kind]
      }
    }
    if let lastAt, now > lastAt {
      let seconds = Double(now - lastAt)
      for (series, count) in counts {
        // A router that restarted counts from zero again: no negative rate.
        let delta = max(0, count - (lastCounts[series] ?? count))
        samples.append(Sample(series: series, at: now, value: Double(delta) / seconds))
      }
    }
    lastCounts = counts
    lastAt = now
    do {
      try await store.recordSamples(samples, retention: retention, now: now)
    } catch {
      logger.error("cannot store metric samples", metadata: ["error": "\(error)"])
    }
    for sink in sinks { await sink.send(samples) }
  }
}
