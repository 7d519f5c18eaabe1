import Lifecycle
import SchedulerDaemon
import Synchronization

/// The lifecycle's timers, fired by hand: a test sees what is pending and makes its time come
/// without waiting for it.
public final class ManualTimers: LifecycleTimers {
  private struct Pending {
    var millis: Int64
    var fire: @Sendable () async -> Void
  }

  private let pending = Mutex<[LifecycleTimer: Pending]>([:])

  public init() {}

  public func schedule(
    _ timer: LifecycleTimer, afterMillis millis: Int64,
    fire: @escaping @Sendable () async -> Void
  ) {
    pending.withLock { $0[timer] = Pending(millis: millis, fire: fire) }
  }

  public func cancel(_ timer: LifecycleTimer) {
    pending.withLock { _ = $0.removeValue(forKey: timer) }
  }

  /// Pending timers and the delay each was scheduled with.
  public var scheduled: [LifecycleTimer: Int64] { pending.withLock { $0.mapValues(\.millis) } }

  /// Fires every pending timer now, as if its time had come; returns once each has run.
  public func fireAll() async {
    let due = pending.withLock { table in
      defer { table = [:] }
      return table
    }
    for (_, timer) in due.sorted(by: { "\($0.key)" < "\($1.key)" }) { await timer.fire() }
  }
}
