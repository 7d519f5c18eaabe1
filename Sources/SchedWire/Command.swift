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
  case startSlot(StartSlot)
  case stopSlot(StopSlot)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case startSlot = "start_slot"
    case stopSlot = "stop_slot"
  }

  enum KindKey: String, CodingKey { case kind }

  public var kind: Kind {
    switch self {
    case .startSlot: .startSlot
    case .stopSlot: .stopSlot
    }
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: KindKey.self)
    switch try container.decode(Kind.self, forKey: .kind) {
    case .startSlot: self = .startSlot(try StartSlot(from: decoder))
    case .stopSlot: self = .stopSlot(try StopSlot(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: KindKey.self)
    try container.encode(kind, forKey: .kind)
    switch self {
    case .startSlot(let body): try body.encode(to: encoder)
    case .stopSlot(let body): try body.encode(to: encoder)
    }
  }
}

/// Start one slot's container (idempotent: the container name derives from the slot).
public struct StartSlot: Codable, Sendable, Equatable {
  public var slot: SlotID
  public var image: String
  public var resources: Resources
  public var hostPort: Int

  public init(slot: SlotID, image: String, resources: Resources, hostPort: Int) {
    self.slot = slot
    self.image = image
    self.resources = resources
    self.hostPort = hostPort
  }

  enum CodingKeys: String, CodingKey {
    case slot, image, resources
    case hostPort = "host_port"
  }
}

/// Stop and remove one slot's container, giving it `timeoutSeconds` to exit.
public struct StopSlot: Codable, Sendable, Equatable {
  public var slot: SlotID
  public var timeoutSeconds: Int

  public init(slot: SlotID, timeoutSeconds: Int) {
    self.slot = slot
    self.timeoutSeconds = timeoutSeconds
  }

  enum CodingKeys: String, CodingKey {
    case slot
    case timeoutSeconds = "timeout_s"
  }
}
