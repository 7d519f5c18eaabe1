import Lifecycle
import Synchronization

/// Runs the timers the lifecycle asks for (`.schedule`, `.cancel`): real sleeps in `schedd`,
/// fired by hand in tests (`ManualTimers`).
public protocol LifecycleTimers: Sendable {
  /// Calls `fire` once `millis` have passed, unless cancelled first; scheduling a timer again
  /// replaces the pending one.
  func schedule(
    _ timer: LifecycleTimer, afterMillis millis: Int64,
    fire: @escaping @Sendable () async -> Void)
  /// Forgets a pending timer.
  func cancel(_ timer: LifecycleTimer)
}

/// Timers as sleeping tasks.
public final class SleepingTimers: LifecycleTimers {
  private let pending = Mutex<[LifecycleTimer: Task<Void, Never>]>([:])

  public init() {}

  public func schedule(
    _ timer: LifecycleTimer, afterMillis millis: Int64,
    fire: @escaping @Sendable () async -> Void
  ) {
    let task = Task { [weak self] in
      try? await Task.sleep(for: .milliseconds(millis))
      guard !Task.isCancelled else { return }
      self?.pending.withLock { _ = $0.removeValue(forKey: timer) }
      await fire()
    }
    pending.withLock { $0.updateValue(task, forKey: timer)?.cancel() }
  }

  public func cancel(_ timer: LifecycleTimer) {
    pending.withLock { $0.removeValue(forKey: timer)?.cancel() }
  }
}
