import SchedWire

/// Decides whether an agent acts on a command: commands from an older registration (generation)
/// are stale and dropped, and a command id already answered is answered again without acting.
public struct CommandGate: Sendable {
  public private(set) var generation: Int64
  private var answered: [String: CommandAck] = [:]
  private var order: [String] = []
  private let memory: Int

  public init(generation: Int64, memory: Int = 1024) {
    self.generation = generation
    self.memory = memory
  }

  public enum Decision: Sendable, Equatable {
    /// Carry it out, then `record` the ack.
    case execute
    /// Seen before: send this ack again, do nothing else.
    case replay(CommandAck)
    /// From an older generation: answer with this refusal.
    case stale(CommandAck)
  }

  public mutating func registered(generation: Int64) {
    self.generation = max(self.generation, generation)
  }

  public func decide(id: String, command: Command) -> Decision {
    if command.generation < generation {
      return .stale(
        CommandAck(
          ok: false,
          message:
            "command generation \(command.generation) is older than this node's \(generation); ignored"
        ))
    }
    if let ack = answered[id] { return .replay(ack) }
    return .execute
  }

  public mutating func record(id: String, ack: CommandAck) {
    if answered.updateValue(ack, forKey: id) == nil { order.append(id) }
    if order.count > memory { answered.removeValue(forKey: order.removeFirst()) }
  }
}
