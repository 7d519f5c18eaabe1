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
  case routes(Routes)
  case commit(Commit)
  case abort(Abort)
  case routeAck(RouteAck)
  case drain(Drain)
  case drained(Drained)
  case routerReport(RouterReport)
  case previewCheck(PreviewCheck)
  case previewChecked(PreviewChecked)
  case fetchBlob(FetchBlob)
  case blob(BlobHeader)
  case buildLog(BuildLog)
  case checkBlobs(CheckBlobs)
  case missingBlobs(MissingBlobs)
  case putBlob(PutBlob)
  case stored(BlobStored)
  case certificates(EdgeCertificates)
  case acmeChallenges(ACMEChallenges)
  case challengesHeld(ChallengesHeld)

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
    case .routes: .routes
    case .commit: .commit
    case .abort: .abort
    case .routeAck: .routeAck
    case .drain: .drain
    case .drained: .drained
    case .routerReport: .routerReport
    case .previewCheck: .previewCheck
    case .previewChecked: .previewChecked
    case .fetchBlob: .fetchBlob
    case .blob: .blob
    case .buildLog: .buildLog
    case .checkBlobs: .checkBlobs
    case .missingBlobs: .missingBlobs
    case .putBlob: .putBlob
    case .stored: .stored
    case .certificates: .certificates
    case .acmeChallenges: .acmeChallenges
    case .challengesHeld: .challengesHeld
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
