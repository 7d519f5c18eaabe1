import SchedModel

/// Turns a run of health-check results into a slot's health, with thresholds so one slow answer
/// does not flap a slot. A value type: feed it results, read `health`.
public struct HealthTracker: Sendable, Hashable {
  public private(set) var health: SlotHealth = .starting
  public private(set) var lastError: String?
  private var passes = 0
  private var failures = 0
  let healthyThreshold: Int
  let unhealthyThreshold: Int

  public init(healthyThreshold: Int, unhealthyThreshold: Int) {
    self.healthyThreshold = max(1, healthyThreshold)
    self.unhealthyThreshold = max(1, unhealthyThreshold)
  }

  /// One check passed (a 2xx or 3xx answer in time).
  public mutating func passed() {
    passes += 1
    failures = 0
    lastError = nil
    if passes >= healthyThreshold { health = .healthy }
  }

  /// One check failed, with what went wrong.
  public mutating func failed(_ reason: String) {
    failures += 1
    passes = 0
    lastError = reason
    switch health {
    case .healthy where failures >= unhealthyThreshold: health = .unhealthy
    case .starting, .healthy, .unhealthy, .exited, .refused: break
    }
  }

  /// The container runs (again): after an exit, checks start over.
  public mutating func running() {
    if health == .exited || health == .refused { health = .starting }
  }

  /// The container is not running; checks start over when it runs again.
  public mutating func exited(_ reason: String) {
    health = .exited
    passes = 0
    failures = 0
    lastError = reason
  }
}
