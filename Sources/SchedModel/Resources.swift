/// An amount of CPU and memory: a node's capacity, a slot's demand, or what is free.
public struct Resources: Hashable, Sendable, Codable {
  /// CPU in millicores: 1000 is one full core.
  public var cpuMillis: Int64
  public var memoryBytes: Int64

  public init(cpuMillis: Int64, memoryBytes: Int64) {
    self.cpuMillis = cpuMillis
    self.memoryBytes = memoryBytes
  }

  public static let zero = Resources(cpuMillis: 0, memoryBytes: 0)

  enum CodingKeys: String, CodingKey {
    case cpuMillis = "cpu_millis"
    case memoryBytes = "memory_bytes"
  }

  public static func + (lhs: Resources, rhs: Resources) -> Resources {
    Resources(
      cpuMillis: lhs.cpuMillis + rhs.cpuMillis, memoryBytes: lhs.memoryBytes + rhs.memoryBytes)
  }

  public static func - (lhs: Resources, rhs: Resources) -> Resources {
    Resources(
      cpuMillis: lhs.cpuMillis - rhs.cpuMillis, memoryBytes: lhs.memoryBytes - rhs.memoryBytes)
  }

  public static func * (lhs: Resources, count: Int) -> Resources {
    Resources(
      cpuMillis: lhs.cpuMillis * Int64(count), memoryBytes: lhs.memoryBytes * Int64(count))
  }

  /// True when every dimension of `self` is at most the same dimension of `other`.
  public func fits(in other: Resources) -> Bool {
    cpuMillis <= other.cpuMillis && memoryBytes <= other.memoryBytes
  }
}
