/// The error of the transport module.
public struct TransportError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case bind
    case connect
    /// A file of the daemon's own state could not be read or written.
    case state
    /// The peer refused the request (an `error` line), or said something out of turn.
    case refused
    /// The connection broke off or went quiet halfway; the request may be resumed.
    case broken
    /// TLS could not be set up, or the peer's certificate is not the cluster's.
    case tls
    /// This node has no way to prove itself (no certificate, no join token).
    case credentials
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }

  /// A short reason from NIO's nested connection errors: "connection refused", "timed out".
  static func reason(_ error: any Error) -> String {
    let text = "\(error)"
    if text.contains("Connection refused") { return "connection refused" }
    if text.contains("connectTimeout") || text.contains("timed out") { return "timed out" }
    if text.contains("No route to host") { return "no route to host" }
    return text
  }
}
