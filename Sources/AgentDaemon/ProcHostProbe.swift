import AgentCore
import Foundation
import SchedModel

/// Reads capacity and usage from `/proc`; the parsing is AgentCore's, this only reads files.
public actor ProcHostProbe: HostProbe {
  private let root: String
  private var previous: CPUTimes?

  /// `root` lets tests point at a captured tree; production reads `/proc`.
  public init(root: String = "/proc") {
    self.root = root
  }

  public func capacity() throws -> Resources {
    let cpus = try ProcParsers.allowedCPUCount(status: read("self/status"))
    let memory = try ProcParsers.memory(meminfo: read("meminfo"))
    return Resources(cpuMillis: Int64(cpus) * 1000, memoryBytes: memory.totalBytes)
  }

  public func usage() async throws -> HostUsage {
    var earlier = previous
    if earlier == nil {
      earlier = try ProcParsers.cpuTimes(stat: read("stat"))
      try await Task.sleep(for: .milliseconds(100))
    }
    let times = try ProcParsers.cpuTimes(stat: read("stat"))
    previous = times
    let memory = try ProcParsers.memory(meminfo: read("meminfo"))
    return HostUsage(
      cpuUsedMillis: times.usedMillis(since: earlier!), memoryUsedBytes: memory.usedBytes,
      memoryAvailableBytes: memory.availableBytes)
  }

  private func read(_ file: String) throws -> String {
    let path = "\(root)/\(file)"
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ProbeError("cannot read \(path); the agent needs Linux /proc")
    }
    return String(decoding: data, as: UTF8.self)
  }
}
