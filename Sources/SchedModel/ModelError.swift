/// The error of the model: bad values an operator or a peer handed in.
/// A struct around a code so that new cases break no caller.
public struct ModelError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case invalidNodeID
    case invalidPortRange
    case invalidLabel
    case invalidResources
    case invalidDuration
    case invalidAddress
    case invalidApp
    case invalidImage
  }

  public let code: Code
  /// What was wrong and what to do about it.
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
