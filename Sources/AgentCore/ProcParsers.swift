/// Pure parsers for the `/proc` files the agent reads. They take the text, so tests feed them
/// captured files from real machines.
public enum ProcParsers {
  /// Counts the CPUs in `Cpus_allowed_list:` of `/proc/self/status` (e.g. `0-3,8,10-11` is 7).
  public static func allowedCPUCount(status: String) throws(ProbeError) -> Int {
    guard
      let line = status.split(separator: "\n").first(where: {
        $0.hasPrefix("Cpus_allowed_list:")
      })
    else {
      throw ProbeError("/proc/self/status has no Cpus_allowed_list line")
    }
    let list = line.dropFirst("Cpus_allowed_list:".count).filter { $0 != " " && $0 != "\t" }
    var count = 0
    for part in list.split(separator: ",") {
      let bounds = part.split(separator: "-")
      switch bounds.count {
      case 1 where Int(bounds[0]) != nil:
        count += 1
      case 2:
        guard let low = Int(bounds[0]), let high = Int(bounds[1]), low <= high else {
          throw ProbeError("cannot read CPU range '\(part)' in Cpus_allowed_list")
        }
        count += high - low + 1
      default:
        throw ProbeError("cannot read CPU entry '\(part)' in Cpus_allowed_list")
      }
    }
    guard count > 0 else { throw ProbeError("Cpus_allowed_list lists no CPU") }
    return count
  }

  /// Reads the aggregate `cpu` line of `/proc/stat` and counts the `cpuN` lines.
  public static func cpuTimes(stat: String) throws(ProbeError) -> CPUTimes {
    var aggregate: [UInt64]?
    var cpus = 0
    for line in stat.split(separator: "\n") where line.hasPrefix("cpu") {
      let fields = line.split(separator: " ")
      if fields[0] == "cpu" {
        aggregate = fields.dropFirst().compactMap { UInt64($0) }
      } else {
        cpus += 1
      }
    }
    guard let values = aggregate, values.count >= 4 else {
      throw ProbeError("/proc/stat has no aggregate 'cpu' line with at least 4 fields")
    }
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // counted in user and nice, so it is left out of the total.
    let idle = values[3] + (values.count > 4 ? values[4] : 0)
    let total = values.prefix(8).reduce(0, +)
    return CPUTimes(busy: total - idle, total: total, cpus: max(cpus, 1))
  }

  /// `MemTotal` and `MemAvailable` of `/proc/meminfo`, in bytes.
  public static func memory(meminfo: String) throws(ProbeError) -> MemoryInfo {
    var total: Int64?
    var available: Int64?
    for line in meminfo.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count >= 2, let value = Int64(fields[1]) else { continue }
      let bytes = fields.count >= 3 && fields[2] == "kB" ? value * 1024 : value
      switch fields[0] {
      case "MemTotal:": total = bytes
      case "MemAvailable:": available = bytes
      default: break
      }
    }
    guard let total else { throw ProbeError("/proc/meminfo has no MemTotal line") }
    guard let available else {
      throw ProbeError("/proc/meminfo has no MemAvailable line (Linux 3.14 or later needed)")
    }
    return MemoryInfo(totalBytes: total, availableBytes: available)
  }
}

/// Cumulative CPU time from `/proc/stat`, in clock ticks.
public struct CPUTimes: Sendable, Hashable {
  public var busy: UInt64
  public var total: UInt64
  /// CPUs the host has (the `cpuN` lines).
  public var cpus: Int

  public init(busy: UInt64, total: UInt64, cpus: Int) {
    self.busy = busy
    self.total = total
    self.cpus = cpus
  }

  /// Millicores used between `earlier` and `self`, over all the host's CPUs.
  public func usedMillis(since earlier: CPUTimes) -> Int64 {
    guard total > earlier.total, busy >= earlier.busy else { return 0 }
    let fraction = Double(busy - earlier.busy) / Double(total - earlier.total)
    return Int64((fraction * Double(cpus) * 1000).rounded())
  }
}

/// Memory from `/proc/meminfo`.
public struct MemoryInfo: Sendable, Hashable {
  public var totalBytes: Int64
  public var availableBytes: Int64

  public init(totalBytes: Int64, availableBytes: Int64) {
    self.totalBytes = totalBytes
    self.availableBytes = availableBytes
  }

  public var usedBytes: Int64 { totalBytes - availableBytes }
}

/// The error of the agent core: what could not be read or understood on the host.
public struct ProbeError: Error, Hashable, Sendable, CustomStringConvertible {
  public let message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
