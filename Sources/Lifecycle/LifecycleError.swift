/// Why the scheduler refused or could not carry out an operation on an app: what kind of
/// failure (the API maps it to a status once) and a message that says what to do.
public struct LifecycleError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of failure. New kinds break no caller that switches over `code` with the API's
  /// one mapping.
  public enum Code: Sendable, Hashable {
    /// The request itself is wrong (a bad spec, a bad image reference).
    case invalid
    /// No such app, set or verification.
    case notFound
    /// The app's state does not allow it now (not ready, locked, busy, no candidate).
    case conflict
    /// The cluster could not do it (no router, a router did not ack).
    case unavailable
    /// The scheduler failed (its store).
    case failed
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }

  static func noApp(_ name: String) -> LifecycleError {
    LifecycleError(.notFound, "no app named '\(name)'; create it with schedctl app apply FILE")
  }

  static func busy(_ name: String, _ phase: AppPhase) -> LifecycleError {
    LifecycleError(
      .conflict,
      "\(phase.doing) of \(name) is already in progress; wait for it (schedctl status \(name))")
  }
}
