/// The error of the router daemon, with a message an operator can act on.
public struct RouterError: Error, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case config
    case bind
    case stateFile = "state_file"
    case refused
    case session
    /// The scheduler serves another cluster than the one this router joined.
    case wrongCluster = "wrong_cluster"
    /// A new process could not be started, or did not serve in time, at an upgrade.
    case upgrade
    /// A TLS handshake on the HTTPS listener that cannot be served (no certificate).
    case tls
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
