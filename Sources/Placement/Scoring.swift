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
    let total = tenToThe(freeCPU) + tenToThe(freeMemory)
    return min(18, max(0, 20 - total))
  }

  /// 10^x, the one place the best-fit curve is computed (the search's bounds use it too).
  @inline(__always)
  static func tenToThe(_ x: Double) -> Double { pow(10, x) }

  /// The cosine between a node's free room and a slot, each as shares of the node's capacity:
  /// 1 when the slot has the shape of what is left.
  public static func alignment(free: Resources, capacity: Resources, _ demand: Resources) -> Double
  {
    let freeCPU = Double(free.cpuMillis) / Double(capacity.cpuMillis)
    let freeMemory = Double(free.memoryBytes) / Double(capacity.memoryBytes)
    let cpu = Double(demand.cpuMillis) / Double(capacity.cpuMillis)
    let memory = Double(demand.memoryBytes) / Double(capacity.memoryBytes)
    let norms =
      (freeCPU * freeCPU + freeMemory * freeMemory).squareRoot()
      * (cpu * cpu + memory * memory).squareRoot()
    return norms > 0 ? (freeCPU * cpu + freeMemory * memory) / norms : 0
  }
}
