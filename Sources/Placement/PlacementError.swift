/// The error of the placement module: a request that cannot be placed as asked.
public struct PlacementError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case invalidRequest
    /// The set does not fit where it was asked to go (`placePinned`).
    case doesNotFit
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
