import Foundation
import Synchronization

/// Counts of what operators alert on, since this scheduler started: switches and rollbacks
/// (committed or aborted) with their durations, deploys and verifications by outcome. Shared by
/// the app service (which counts) and `/metrics` (which reads); one lock.
final class OperatorCounters: Sendable {
  /// Switch durations' bucket bounds, in seconds.
  static let switchBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

  struct Key: Hashable, Sendable, Comparable {
    var app: String
    var kind: String
    var outcome: String

    static func < (a: Key, b: Key) -> Bool {
      (a.app, a.kind, a.outcome) < (b.app, b.kind, b.outcome)
    }
  }

  /// A duration histogram: counts per bound (the last one unbounded) and the sum.
  struct Durations: Sendable {
    var counts = Array(repeating: Int64(0), count: OperatorCounters.switchBounds.count + 1)
    var sum = 0.0

    mutating func record(_ seconds: Double) {
      counts[OperatorCounters.switchBounds.firstIndex { seconds <= $0 } ?? counts.count - 1] += 1
      sum += seconds
    }
  }

  struct Snapshot: Sendable {
    var switches: [Key: Int64] = [:]
    /// By app and kind (switch, rollback), outcome "committed".
    var switchDurations: [Key: Durations] = [:]
    var deploys: [Key: Int64] = [:]
    var verifications: [Key: Int64] = [:]
  }

  private let state = Mutex(Snapshot())

  var snapshot: Snapshot { state.withLock { $0 } }

  /// A switch or rollback ended: `committed` (with how long it took) or `aborted`.
  func switchEnded(app: String, rollback: Bool, committed: Bool, seconds: Double) {
    let key = Key(
      app: app, kind: rollback ? "rollback" : "switch", outcome: committed ? "committed" : "aborted"
    )
    state.withLock { state in
      state.switches[key, default: 0] += 1
      if committed { state.switchDurations[key, default: Durations()].record(seconds) }
    }
  }

  /// A deploy request was answered: `placed`, `refused` (busy, locked, does not fit) or `failed`.
  func deployAnswered(app: String, outcome: String) {
    state.withLock { $0.deploys[Key(app: app, kind: "deploy", outcome: outcome), default: 0] += 1 }
  }

  /// A verification ended, `passed` or `failed`.
  func verificationEnded(app: String, passed: Bool) {
    let key = Key(app: app, kind: "verify", outcome: passed ? "passed" : "failed")
    state.withLock { $0.verifications[key, default: 0] += 1 }
  }
}
