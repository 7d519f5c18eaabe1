/// The host ports a node lends to slots, both ends included.
public struct PortRange: Hashable, Sendable, Codable, CustomStringConvertible {
  public var low: Int
  public var high: Int

  public init(low: Int, high: Int) throws(ModelError) {
    guard (1...65535).contains(low), (1...65535).contains(high), low <= high else {
      throw ModelError(
        .invalidPortRange,
        "port range \(low)-\(high) is not valid: use LOW-HIGH with 1 <= LOW <= HIGH <= 65535")
    }
    self.low = low
    self.high = high
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let low = try container.decode(Int.self, forKey: .low)
    let high = try container.decode(Int.self, forKey: .high)
    do {
      try self.init(low: low, high: high)
    } catch {
      throw DecodingError.dataCorruptedError(
        forKey: .high, in: container, debugDescription: error.message)
    }
  }

  enum CodingKeys: String, CodingKey { case low, high }

  /// Parses `20000-20999`.
  public static func parse(_ text: String) throws(ModelError) -> PortRange {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2, let low = Int(parts[0]), let high = Int(parts[1]) else {
      throw ModelError(
        .invalidPortRange,
        "port range '\(text)' is not valid: write it as LOW-HIGH, e.g. 20000-20999")
    }
    return try PortRange(low: low, high: high)
  }

  public var count: Int { high - low + 1 }
  public func contains(_ port: Int) -> Bool { (low...high).contains(port) }
  public var description: String { "\(low)-\(high)" }
}
