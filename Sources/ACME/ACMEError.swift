/// The error of the ACME client: what went wrong with the CA, in words an operator can act on.
public struct ACMEError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    /// The CA's directory or one of its URLs did not answer (refused, timed out, TLS failed).
    case unreachable
    /// The CA answered with an RFC 7807 problem document.
    case problem
    /// The CA answered something this client cannot read.
    case badResponse = "bad_response"
    /// A challenge or an order ended `invalid`.
    case invalid
    /// An authorization or an order did not settle in time.
    case timedOut = "timed_out"
    /// The routers could not be handed a challenge token.
    case challenge
    /// Making a key, a request or a signature failed.
    case crypto
  }

  public let code: Code
  public let message: String
  /// The problem type (`urn:ietf:params:acme:error:...`) when the CA sent one.
  public let problemType: String?

  public init(_ code: Code, _ message: String, problemType: String? = nil) {
    self.code = code
    self.message = message
    self.problemType = problemType
  }

  public var description: String { message }

  /// The problem type without its `urn:ietf:params:acme:error:` prefix.
  public var shortProblem: String? {
    problemType.map { $0.replacingOccurrences(of: "urn:ietf:params:acme:error:", with: "") }
  }
}
