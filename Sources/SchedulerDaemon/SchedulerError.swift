/// The error of the scheduler daemon, with a message an operator can act on.
public struct SchedulerError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case config
    case nodeNotConnected = "node_not_connected"
    case commandTimeout = "command_timeout"
    case commandFailed = "command_failed"
    case store
    case duplicateNode = "duplicate_node"
    /// No such image or blob in the image store.
    case notFound = "not_found"
    /// An upload or a request the image store refuses as it is.
    case invalid
    /// The image store's disk is full; it kept what it had.
    case diskFull = "disk_full"
    /// The image is in use by a set.
    case conflict
    /// More than a bound allows (a build context).
    case tooLarge = "too_large"
    /// A request whose signature or credentials do not check out.
    case unauthorized
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
