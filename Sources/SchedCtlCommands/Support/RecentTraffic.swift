import Foundation
import SchedModel

/// A set's last minutes as the scheduler's stored samples have them (10 s points): request
/// rate, the status classes' shares, a trend line, CPU and memory. Pure.
struct RecentTraffic: Equatable {
  var color: Color
  /// Mean requests per second over the window, and in its newest point.
  var averageRate: Double
  var latestRate: Double
  /// Percent of the window's requests, by class; nil without requests.
  var success: Double?
  var clientErrors: Double?
  /// 5xx answers and the router's own errors together.
  var failures: Double?
  var trend: String
  var cpuMillis: Double?
  var memoryBytes: Double?

  /// The series to ask for to summarize `app`.
  static func series(app: String) -> [String] { SeriesName.sets(app: app) }

  /// One summary per colour that has points in the window.
  static func summarize(_ points: [SamplePoint], app: String) -> [RecentTraffic] {
    let bySeries = Dictionary(grouping: points, by: \.series).mapValues {
      $0.sorted { $0.start < $1.start }
    }
    return Color.allCases.compactMap { color in
      func values(_ metric: String) -> [Double] {
        (bySeries[SeriesName.set(app, color, metric)] ?? []).map(\.mean)
      }
      let requests = values("requests")
      let cpu = values("cpu")
      let memory = values("memory")
      guard !requests.isEmpty || !cpu.isEmpty || !memory.isEmpty else { return nil }
      let total = requests.reduce(0, +)
      func share(_ metrics: String...) -> Double? {
        guard total > 0 else { return nil }
        return metrics.map { values($0).reduce(0, +) }.reduce(0, +) / total * 100
      }
      return RecentTraffic(
        color: color, averageRate: requests.isEmpty ? 0 : total / Double(requests.count),
        latestRate: requests.last ?? 0, success: share("2xx"), clientErrors: share("4xx"),
        failures: share("5xx", "proxy_error"), trend: sparkline(requests), cpuMillis: cpu.last,
        memoryBytes: memory.last)
    }
  }

  /// Values as a line of block characters, lowest to highest: ▁▂▃▄▅▆▇█.
  static func sparkline(_ values: [Double]) -> String {
    let blocks = Array("▁▂▃▄▅▆▇█")
    guard let top = values.max(), top > 0 else {
      return String(repeating: blocks[0], count: values.count)
    }
    return String(values.map { blocks[min(7, Int(($0 / top * 7).rounded()))] })
  }

  static func rate(_ value: Double) -> String {
    value >= 10 ? String(Int(value.rounded())) : String(format: "%.1f", value)
  }

  static func percent(_ value: Double?) -> String {
    value.map { String(format: "%.1f%%", $0) } ?? "-"
  }
}
