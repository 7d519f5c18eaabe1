import SchedModel

/// A scheduler → agent command. `id` in the head is the command id; retries reuse it.
/// Agents drop commands whose `generation` is older than the one they last registered with.
public struct Command: WireBody {
  public static let type = MessageType.command
  public var generation: Int64
  public var action: CommandAction

  public init(generation: Int64, action: CommandAction) {
    self.generation = generation
    self.action = action
  }
}

/// The agent's answer to a command, with the command id echoed in the head.
public struct CommandAck: WireBody {
  public static let type = MessageType.commandAck
  public var ok: Bool
  public var message: String?

  public init(ok: Bool, message: String? = nil) {
    self.ok = ok
    self.message = message
  }
}

/// What a command asks for. Encoded flat with a `kind` field.
public enum CommandAction: Sendable, Equatable, Codable {
  /// The complete list of slots the scheduler wants on the node. Declarative and idempotent: the
  /// agent starts what is missing, replaces what differs, and stops managed containers not listed.
  case assign(AssignSlots)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case assign
  }

  enum KindKey: String, CodingKey { case kind }

  public var kind: Kind {
    switch self {
    case .assign: .assign
    }
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: KindKey.self)
    switch try container.decode(Kind.self, forKey: .kind) {
    case .assign: self = .assign(try AssignSlots(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: KindKey.self)
    try container.encode(kind, forKey: .kind)
    switch self {
    case .assign(let body): try body.encode(to: encoder)
    }
  }
}

/// Every slot the node should run, nothing else.
public struct AssignSlots: Codable, Sendable, Equatable {
  public var slots: [SlotAssignment]

  public init(slots: [SlotAssignment]) { self.slots = slots }
}
