import Foundation

/// What holds an app against a second deploy or a verify: a deploy while it builds its set, a
/// verification while it runs. Not queued: the second operation is refused with who holds the
/// app, since when, and what to do (like `kamal lock`, but taken and let go by the operations
/// themselves). Pure; the scheduler hands in the set's progress and the time.
public struct AppLock: Sendable, Hashable {
  public enum Operation: Sendable, Hashable {
    case deploy(deployment: String, color: Color)
    case verify(id: String)
  }

  /// How far the operation holding the lock has come.
  public enum Progress: Sendable, Hashable {
    /// The deploy's set is coming up (`healthy` of `total` slots) or the verification runs.
    case running(healthy: Int, total: Int)
    /// The set is ready, or a slot failed (refused, exited, unhealthy), or the verification
    /// ended: the operation's outcome is known.
    case settled
    /// The deploy's set was stopped or replaced.
    case gone
  }

  /// A deploy lets go after this long even if its set never settles (a health check that
  /// never passes): the operator can then deploy a fix.
  public static let deployLimit: TimeInterval = 15 * 60

  public var operation: Operation
  /// Who started it, as the event log names them.
  public var holder: String
  public var since: Date

  public init(_ operation: Operation, holder: String, since: Date) {
    self.operation = operation
    self.holder = holder
    self.since = since
  }

  /// Whether the lock still holds.
  public func holds(_ progress: Progress, now: Date) -> Bool {
    switch (operation, progress) {
    case (_, .settled), (_, .gone): false
    case (.deploy, .running): now.timeIntervalSince(since) < Self.deployLimit
    case (.verify, .running): true
    }
  }

  /// The refusal of `asked` ("deploy", "verify") on `app` while the lock holds.
  public func refusal(app: String, asked: String, progress: Progress, now: Date) -> String {
    let age = Int(now.timeIntervalSince(since).rounded())
    let when = "since \(Self.clock(since)) UTC, \(age)s ago"
    switch operation {
    case .deploy(let deployment, let color):
      var done = ""
      if case .running(let healthy, let total) = progress { done = ", \(healthy)/\(total) healthy" }
      return
        "\(asked) refused: \(app) is locked by the deploy of \(deployment) (\(color.rawValue)\(done)) by \(holder), \(when). Wait until its set is ready or fails (schedctl status \(app)), or stop it: schedctl stop-set \(app) \(color.rawValue)"
    case .verify(let id):
      return
        "\(asked) refused: \(app) is locked by verification \(id) by \(holder), \(when). Wait for it to end: schedctl verify \(app) --show"
    }
  }

  static func clock(_ date: Date) -> String {
    let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
    let day = ((seconds % 86400) + 86400) % 86400
    return String(format: "%02d:%02d:%02d", day / 3600, day / 60 % 60, day % 60)
  }
}
