/// The error of the cluster's certificates: what was wrong and what to do.
public struct PKIError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    /// A join token that is not one the scheduler printed.
    case badToken = "bad_token"
    /// A certificate, key or request that cannot be read or does not hold what it must.
    case badCertificate = "bad_certificate"
    /// A certificate request whose signature does not match its key.
    case badRequest = "bad_request"
    /// Key or certificate files that cannot be read or written.
    case files
    /// Making a key, a certificate or a signature failed.
    case crypto
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
