/// Machine-readable reasons on an `error` line.
public enum WireErrorCode: String, Sendable, Codable, CaseIterable {
  /// The line is not JSON, or not a JSON object.
  case badJSON = "bad_json"
  /// A field is missing or has the wrong type or value.
  case badField = "bad_field"
  case unknownType = "unknown_type"
  case unsupportedVersion = "unsupported_version"
  /// The line is longer than the limit; the connection is closed.
  case lineTooLong = "line_too_long"
  /// No hello in time; the connection is closed.
  case helloTimeout = "hello_timeout"
  /// Wrong join token; the connection is closed.
  case unauthorized
  /// A valid message that does not belong here, e.g. a heartbeat before register.
  case unexpected
  /// The node id is held by another live connection; the connection is closed.
  case conflict
  /// Something failed on the scheduler's side.
  case `internal`
  /// A blob the image store does not hold.
  case notFound = "not_found"
}

/// An `error` line. Echoes the `id` of the request that caused it when there was one.
public struct ErrorReply: WireBody, Error {
  public static let type = MessageType.error
  public var code: WireErrorCode
  public var message: String

  public init(code: WireErrorCode, message: String) {
    self.code = code
    self.message = message
  }

}
