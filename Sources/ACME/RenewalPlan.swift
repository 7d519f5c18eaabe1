import Foundation

/// When each managed name's next order is due: at once for a name with no certificate (or an
/// expired one), at two thirds of the current certificate's life, and after a failure on an
/// exponential backoff (base, doubled per failure, capped). An operator's `renew` is due at once.
/// Pure: the caller passes the clock.
public struct RenewalPlan: Sendable, Equatable {
  /// What the plan knows of one name.
  public struct Name: Sendable, Equatable {
    public var name: String
    /// The validity of the certificate serving now, if any.
    public var notBefore: Date?
    public var notAfter: Date?
    /// Failed attempts since the last success.
    public var failures: Int
    public var lastFailure: Date?
    /// An operator asked for a renewal now.
    public var forced: Bool

    public init(
      name: String, notBefore: Date? = nil, notAfter: Date? = nil, failures: Int = 0,
      lastFailure: Date? = nil, forced: Bool = false
    ) {
      self.name = name
      self.notBefore = notBefore
      self.notAfter = notAfter
      self.failures = failures
      self.lastFailure = lastFailure
      self.forced = forced
    }
  }

  /// The first retry's wait; each failure doubles it.
  public var retryBase: TimeInterval
  /// The longest wait between retries.
  public var retryCap: TimeInterval

  public init(retryBase: TimeInterval = 60, retryCap: TimeInterval = 6 * 3600) {
    self.retryBase = retryBase
    self.retryCap = retryCap
  }

  /// When a certificate valid over [notBefore, notAfter] is renewed.
  public static func renewalTime(notBefore: Date, notAfter: Date) -> Date {
    notBefore.addingTimeInterval(notAfter.timeIntervalSince(notBefore) * 2 / 3)
  }

  /// The wait after `failures` failures in a row.
  public func backoff(after failures: Int) -> TimeInterval {
    guard failures > 0 else { return 0 }
    return min(retryBase * pow(2, Double(min(failures - 1, 30))), retryCap)
  }

  /// When `name`'s next order is due.
  public func due(_ name: Name) -> Date {
    if name.forced { return .distantPast }
    if name.failures > 0, let last = name.lastFailure {
      return last.addingTimeInterval(backoff(after: name.failures))
    }
    guard let notBefore = name.notBefore, let notAfter = name.notAfter else {
      return .distantPast
    }
    return Self.renewalTime(notBefore: notBefore, notAfter: notAfter)
  }

  /// The names due at `now` (oldest due first), and when the next one is due after them.
  public func next(_ names: [Name], now: Date) -> (due: [String], wakeAt: Date?) {
    let times: [(name: String, at: Date)] = names.map { ($0.name, due($0)) }
    let ready = times.filter { $0.at <= now }.sorted { ($0.at, $0.name) < ($1.at, $1.name) }
    return (ready.map(\.name), times.filter { $0.at > now }.map(\.at).min())
  }
}
