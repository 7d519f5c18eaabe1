import Foundation

/// Another process's CPU time and resident memory, read from /proc.
struct ProcessStats {
  let pid: Int32

  /// User and system CPU seconds so far.
  func cpuSeconds() -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return nil }
    // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
      return nil
    }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }

  /// Resident memory in MiB.
  func residentMiB() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
      let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kib / 1024
  }
}

/// Latencies in seconds, summarized.
struct Latencies {
  private(set) var values: [Double] = []

  mutating func add(_ value: Double) { values.append(value) }

  func percentile(_ fraction: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(sorted.count - 1, max(0, rank))]
  }

  var summary: String {
    String(
      format: "%d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms", values.count,
      percentile(0.5) * 1000, percentile(0.99) * 1000, (values.max() ?? 0) * 1000)
  }
}
