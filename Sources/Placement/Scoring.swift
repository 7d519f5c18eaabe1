import Foundation
import SchedModel

/// Ranking functions: plain functions so a table test covers them.
public enum Scoring {
  /// Best fit on CPU and memory together, after Nomad's BestFit-v3: the fuller the node would be
  /// after taking the slot, the higher the score. 0 (empty) to 18 (both dimensions full).
  public static func bestFit(capacity: Resources, used: Resources) -> Double {
    guard capacity.cpuMillis > 0, capacity.memoryBytes > 0 else { return 0 }
    let freeCPU = 1 - Double(used.cpuMillis) / Double(capacity.cpuMillis)
    let freeMemory = 1 - Double(used.memoryBytes) / Double(capacity.memoryBytes)
    let total = pow(10, freeCPU) + pow(10, freeMemory)
    return min(18, max(0, 20 - total))
  }
}
