import Foundation

/// Round-robin over a set's upstreams, skipping those passive failure detection put aside.
/// A value type: the router keeps one per app and color on each event loop.
public struct Balancer: Sendable, Hashable {
  private var next = 0
  private var failures: [Upstream: Int] = [:]
  private var ejectedUntil: [Upstream: Date] = [:]
  public let failureThreshold: Int
  public let ejection: TimeInterval

  public init(failureThreshold: Int = 3, ejection: TimeInterval = 5) {
    self.failureThreshold = max(1, failureThreshold)
    self.ejection = ejection
  }

  /// The next upstream to try, not in `excluding` (already tried for this request). When every
  /// upstream is ejected, ejection is ignored: a guess beats a certain failure.
  public mutating func pick(from upstreams: [Upstream], excluding: Set<Upstream> = [], now: Date)
    -> Upstream?
  {
    // The common case: nothing tried yet, nothing ejected; no arrays built.
    if excluding.isEmpty, ejectedUntil.isEmpty, !upstreams.isEmpty {
      let chosen = upstreams[next % upstreams.count]
      next &+= 1
      return chosen
    }
    ejectedUntil = ejectedUntil.filter { $0.value > now }
    let candidates = upstreams.filter { !excluding.contains($0) }
    guard !candidates.isEmpty else { return nil }
    let usable = candidates.filter { (ejectedUntil[$0] ?? .distantPast) <= now }
    let pool = usable.isEmpty ? candidates : usable
    let chosen = pool[next % pool.count]
    next &+= 1
    return chosen
  }

  /// A request to `upstream` failed to connect or broke before an answer.
  public mutating func failed(_ upstream: Upstream, now: Date) {
    let count = (failures[upstream] ?? 0) + 1
    failures[upstream] = count
    if count >= failureThreshold {
      ejectedUntil[upstream] = now.addingTimeInterval(ejection)
      failures[upstream] = 0
    }
  }

  /// A request to `upstream` got an answer.
  public mutating func succeeded(_ upstream: Upstream) {
    if !failures.isEmpty { failures[upstream] = nil }
    if !ejectedUntil.isEmpty { ejectedUntil[upstream] = nil }
  }

  public func isEjected(_ upstream: Upstream, now: Date) -> Bool {
    (ejectedUntil[upstream] ?? .distantPast) > now
  }
}
