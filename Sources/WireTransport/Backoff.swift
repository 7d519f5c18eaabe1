/// Reconnect delays: exponential with full jitter, so agents that lost the scheduler together
/// do not all dial back in the same instant.
public struct Backoff: Sendable, Hashable {
  public var base: Duration
  public var cap: Duration
  public private(set) var attempt = 0

  public init(base: Duration = .milliseconds(200), cap: Duration = .seconds(5)) {
    self.base = base
    self.cap = cap
  }

  /// The next delay, uniformly drawn from [base/2, min(cap, base * 2^attempt)].
  public mutating func next(using rng: inout some RandomNumberGenerator) -> Duration {
    let ceiling = min(cap, base * (1 << min(attempt, 30)))
    attempt += 1
    let low = base / 2
    let span = max(ceiling - low, .zero)
    let spanNanos =
      span.components.seconds * 1_000_000_000 + span.components.attoseconds / 1_000_000_000
    guard spanNanos > 0 else { return low }
    return low + .nanoseconds(Int64.random(in: 0...spanNanos, using: &rng))
  }

  /// After a session that got as far as registering, start again from the base delay.
  public mutating func reset() { attempt = 0 }
}
