/// Every message of the cluster protocol.
public enum ClusterMessage: Sendable, Equatable {
  case hello(Hello)
  case welcome(Welcome)
  case register(Register)
  case registered(Registered)
  case heartbeat(Heartbeat)
  case error(ErrorReply)
  case command(Command)
  case commandAck(CommandAck)

  public var type: MessageType {
    switch self {
    case .hello: .hello
    case .welcome: .welcome
    case .register: .register
    case .registered: .registered
    case .heartbeat: .heartbeat
    case .error: .error
    case .command: .command
    case .commandAck: .commandAck
    }
  }
}

/// One line: protocol version, an optional request id, and the message.
public struct Frame: Sendable, Equatable {
  public var version: Int
  public var id: String?
  public var message: ClusterMessage

  public init(version: Int = ProtocolVersion.current, id: String? = nil, _ message: ClusterMessage)
  {
    self.version = version
    self.id = id
    self.message = message
  }
}
