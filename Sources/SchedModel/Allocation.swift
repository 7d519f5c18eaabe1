/// The two sets of an app: one serves production while the other is built and checked.
public enum Color: String, Sendable, Codable, CaseIterable, Comparable {
  case blue
  case green

  public var other: Color {
    switch self {
    case .blue: .green
    case .green: .blue
    }
  }

  public static func < (lhs: Color, rhs: Color) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One container of a set: `(app, color, index)`.
public struct SlotID: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
  public var app: String
  public var color: Color
  public var index: Int

  public init(app: String, color: Color, index: Int) {
    self.app = app
    self.color = color
    self.index = index
  }

  public var description: String { "\(app)/\(color.rawValue)/\(index)" }

  public static func < (lhs: SlotID, rhs: SlotID) -> Bool {
    (lhs.app, lhs.color, lhs.index) < (rhs.app, rhs.color, rhs.index)
  }
}

/// A slot's reservation on a node: the resources and host port placement handed it.
public struct Allocation: Hashable, Sendable, Codable {
  public var slot: SlotID
  public var node: NodeID
  public var hostPort: Int
  public var resources: Resources

  public init(slot: SlotID, node: NodeID, hostPort: Int, resources: Resources) {
    self.slot = slot
    self.node = node
    self.hostPort = hostPort
    self.resources = resources
  }

  enum CodingKeys: String, CodingKey {
    case slot, node, resources
    case hostPort = "host_port"
  }
}
