/// The error of the scheduler daemon, with a message an operator can act on.
public struct SchedulerError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case config
    case nodeNotConnected = "node_not_connected"
    case commandTimeout = "command_timeout"
    case commandFailed = "command_failed"
    case store
    case duplicateNode = "duplicate_node"
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
