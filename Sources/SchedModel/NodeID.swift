/// The stable identity of a node. Chosen by the agent (its name unless told otherwise) so that a
/// restarted agent comes back as the same node rather than a new row.
public struct NodeID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
  ExpressibleByStringLiteral
{
  public let rawValue: String

  public init(_ rawValue: String) { self.rawValue = rawValue }
  public init(stringLiteral value: String) { self.rawValue = value }

  public init(from decoder: any Decoder) throws {
    self.rawValue = try decoder.singleValueContainer().decode(String.self)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(rawValue)
  }

  public var description: String { rawValue }
  public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }

  /// Node ids travel in URLs, logs and container names: keep them to a safe alphabet.
  public static func validate(_ raw: String) throws(ModelError) -> NodeID {
    let allowed = raw.unicodeScalars.allSatisfy {
      ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
        || $0 == "-" || $0 == "_" || $0 == "."
    }
    guard !raw.isEmpty, raw.count <= 63, allowed else {
      throw ModelError(
        .invalidNodeID,
        "node id '\(raw)' is not valid: use 1 to 63 letters, digits, '-', '_' or '.'")
    }
    return NodeID(raw)
  }
}
