import Foundation

/// When a node counts as down: it missed `missedBeats` heartbeat intervals.
/// A pure rule; the scheduler feeds it the time.
public struct LivenessPolicy: Sendable, Hashable {
  public var heartbeatInterval: Duration
  public var missedBeats: Int
  /// How long a scheduler that just started waits for its nodes to dial again before a silent
  /// one is down (at least the TTL): agents at their longest reconnect delay need more than a
  /// TTL, and a node marked down is taken out of the routes and its slots re-placed.
  public var restartGrace: Duration

  public init(heartbeatInterval: Duration, missedBeats: Int = 3, restartGrace: Duration = .zero) {
    self.heartbeatInterval = heartbeatInterval
    self.missedBeats = missedBeats
    self.restartGrace = restartGrace
  }

  /// The time after a start in which nodes are not marked down: the TTL, or the restart
  /// grace when longer.
  public var graceAfterStart: Duration { max(ttl, restartGrace) }

  /// How long a node may stay silent before it is down.
  public var ttl: Duration { heartbeatInterval * missedBeats }

  public var ttlSeconds: Double { ttl.seconds }

  /// How long a node may be silent before it counts as going down: a beat or more missed, and
  /// close enough to the TTL that nodes silenced together (their scheduler's link cut) are
  /// all past it when the first of them crosses the TTL (their last beats were at most an
  /// interval apart).
  public var suspectAfter: Duration {
    max(heartbeatInterval, ttl - heartbeatInterval * 1.25)
  }

  /// True when a node last heard from at `lastSeen` has missed beats at `now` (it may still
  /// come back before the TTL).
  public func isSilent(lastSeen: Date, now: Date) -> Bool {
    now.timeIntervalSince(lastSeen) > suspectAfter.seconds
  }

  /// True when a node last heard from at `lastSeen` is down at `now`.
  public func isExpired(lastSeen: Date, now: Date) -> Bool {
    now.timeIntervalSince(lastSeen) > ttlSeconds
  }
}

extension Duration {
  /// The duration as fractional seconds.
  public var seconds: Double {
    let (s, attos) = components
    return Double(s) + Double(attos) / 1e18
  }

  /// The duration in whole milliseconds.
  public var milliseconds: Int64 {
    let (s, attos) = components
    return s * 1000 + attos / 1_000_000_000_000_000
  }
}
