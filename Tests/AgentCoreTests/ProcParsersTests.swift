import AgentCore
import Testing

/// Captured from real machines (a 2-CPU Debian 12 VM and a 16-CPU host pinned to some CPUs).
enum Captured {
  static let stat1 = """
    cpu  8468 0 3816 52740 1068 0 75 1083 0 0
    cpu0 3604 0 1697 27701 66 0 8 543 0 0
    cpu1 4864 0 2118 25039 1002 0 66 539 0 0
    intr 118862 0 0 0 0 0 0 0
    ctxt 2405881
    btime 1795749174
    """
  static let stat2 = """
    cpu  8568 0 3866 52790 1068 0 75 1083 0 0
    cpu0 3654 0 1722 27726 66 0 8 543 0 0
    cpu1 4914 0 2143 25064 1002 0 66 539 0 0
    intr 118990 0 0 0 0 0 0 0
    """
  static let meminfo = """
    MemTotal:       24684092 kB
    MemFree:        23138108 kB
    MemAvailable:   24152360 kB
    Buffers:           36916 kB
    Cached:          1152084 kB
    """
  static let status = """
    Name:\tcat
    Umask:\t0022
    State:\tR (running)
    Cpus_allowed:\t3
    Cpus_allowed_list:\t0-1
    Mems_allowed_list:\t0
    """
}

@Suite("/proc parsers")
struct ProcParsersTests {
  @Test func allowedCPUs() throws {
    #expect(try ProcParsers.allowedCPUCount(status: Captured.status) == 2)
    #expect(try ProcParsers.allowedCPUCount(status: "Cpus_allowed_list:\t0-3,8,10-11\n") == 7)
    #expect(try ProcParsers.allowedCPUCount(status: "Cpus_allowed_list:\t5\n") == 1)
  }

  @Test func allowedCPUsErrors() {
    #expect(throws: ProbeError.self) { try ProcParsers.allowedCPUCount(status: "Name:\tx\n") }
    #expect(throws: ProbeError.self) {
      try ProcParsers.allowedCPUCount(status: "Cpus_allowed_list:\t3-1\n")
    }
    #expect(throws: ProbeError.self) {
      try ProcParsers.allowedCPUCount(status: "Cpus_allowed_list:\tx\n")
    }
  }

  @Test func cpuTimes() throws {
    let times = try ProcParsers.cpuTimes(stat: Captured.stat1)
    #expect(times.cpus == 2)
    // total = user+nice+system+idle+iowait+irq+softirq+steal; idle = idle+iowait
    #expect(times.total == 8468 + 3816 + 52740 + 1068 + 75 + 1083)
    #expect(times.busy == 8468 + 3816 + 75 + 1083)
  }

  @Test func cpuUsageBetweenSamples() throws {
    let first = try ProcParsers.cpuTimes(stat: Captured.stat1)
    let second = try ProcParsers.cpuTimes(stat: Captured.stat2)
    // 150 busy ticks of 200 over 2 CPUs: 75% of 2000m.
    #expect(second.usedMillis(since: first) == 1500)
    #expect(first.usedMillis(since: first) == 0)
  }

  @Test func memory() throws {
    let memory = try ProcParsers.memory(meminfo: Captured.meminfo)
    #expect(memory.totalBytes == 24_684_092 * 1024)
    #expect(memory.availableBytes == 24_152_360 * 1024)
    #expect(memory.usedBytes == (24_684_092 - 24_152_360) * 1024)
  }

  @Test func memoryErrors() {
    #expect(throws: ProbeError.self) { try ProcParsers.memory(meminfo: "MemFree: 1 kB\n") }
    #expect(throws: ProbeError.self) { try ProcParsers.memory(meminfo: "MemTotal: 10 kB\n") }
    #expect(throws: ProbeError.self) { try ProcParsers.cpuTimes(stat: "intr 1 2 3\n") }
  }
}
