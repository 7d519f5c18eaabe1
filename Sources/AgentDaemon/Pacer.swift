import Synchronization

/// How an agent waits between heartbeats. A real agent sleeps (`SleepPacer`); a process that
/// runs thousands of agents (`sched-sim`) shares one `SharedPacer` among them, so 10,000
/// heartbeats a second do not each arm a timer of their own.
public protocol Pacer: Sendable {
  /// Returns after `duration`; throws `CancellationError` when the task is cancelled first.
  func pause(for duration: Duration) async throws
}

/// `Task.sleep`: one timer per wait.
public struct SleepPacer: Pacer {
  public init() {}

  public func pause(for duration: Duration) async throws {
    try await Task.sleep(for: duration)
  }
}

/// One clock for many waiters: a single task wakes every `tick` and resumes every waiter whose
/// time has come (at most one tick late; a wait of zero or less returns at once). Waiters that
/// are cancelled leave at once. `stop()` ends the ticking and fails those still waiting.
public final class SharedPacer: Pacer {
  private struct Waiters {
    var nextID = 0
    /// Waits begun and not yet ended.
    var open: Set<Int> = []
    /// Waiters by the tick they are due at.
    var due: [Int: [Int: CheckedContinuation<Void, any Error>]] = [:]
    /// Where each waiter is filed, to take it out when it is cancelled.
    var slot: [Int: Int] = [:]
    /// The last tick whose waiters were resumed.
    var done = 0
    var stopped = false
  }

  private let tick: Duration
  private let start = ContinuousClock.now
  private let waiters = Mutex(Waiters())
  private let ticker = Mutex<Task<Void, Never>?>(nil)

  public init(tick: Duration = .milliseconds(10)) {
    precondition(tick > .zero, "a pacer's tick must be positive")
    self.tick = tick
    let task = Task { [weak self] in
      while !Task.isCancelled {
        try? await Task.sleep(for: tick)
        guard let self else { return }
        self.wake()
      }
    }
    ticker.withLock { $0 = task }
  }

  deinit { stop() }

  public func pause(for duration: Duration) async throws {
    guard duration > .zero else { return try Task.checkCancellation() }
    let target = ticks(ContinuousClock.now + duration - start, roundingUp: true)
    let id = waiters.withLock { state in
      defer { state.nextID += 1 }
      state.open.insert(state.nextID)
      return state.nextID
    }
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation {
        (continuation: CheckedContinuation<Void, any Error>) in
        let outcome: Result<Void, any Error>? = waiters.withLock { state in
          // Not open: cancelled before it was filed.
          guard !state.stopped, state.open.contains(id) else {
            state.open.remove(id)
            return .failure(CancellationError())
          }
          guard target > state.done else {
            state.open.remove(id)
            return .success(())
          }
          state.due[target, default: [:]][id] = continuation
          state.slot[id] = target
          return nil
        }
        if let outcome { continuation.resume(with: outcome) }
      }
    } onCancel: {
      let continuation = waiters.withLock { state -> CheckedContinuation<Void, any Error>? in
        guard state.open.remove(id) != nil, let filed = state.slot.removeValue(forKey: id) else {
          return nil
        }
        return state.due[filed]?.removeValue(forKey: id)
      }
      continuation?.resume(throwing: CancellationError())
    }
  }

  /// Ends the ticking; waiters still waiting, and any later, get `CancellationError`.
  public func stop() {
    ticker.withLock { task in
      task?.cancel()
      task = nil
    }
    let left = waiters.withLock { state in
      state.stopped = true
      let all = state.due.values.flatMap(\.values)
      state.due = [:]
      state.slot = [:]
      state.open = []
      return all
    }
    for continuation in left { continuation.resume(throwing: CancellationError()) }
  }

  /// Resumes every waiter due by now.
  private func wake() {
    let now = ticks(ContinuousClock.now - start, roundingUp: false)
    let ready = waiters.withLock { state -> [CheckedContinuation<Void, any Error>] in
      guard now > state.done else { return [] }
      var ready: [CheckedContinuation<Void, any Error>] = []
      for due in (state.done + 1)...now {
        guard let filed = state.due.removeValue(forKey: due) else { continue }
        for (id, continuation) in filed {
          state.slot[id] = nil
          state.open.remove(id)
          ready.append(continuation)
        }
      }
      state.done = now
      return ready
    }
    for continuation in ready { continuation.resume() }
  }

  private func ticks(_ elapsed: Duration, roundingUp: Bool) -> Int {
    let whole = Int(elapsed / tick)
    return roundingUp && tick * whole < elapsed ? whole + 1 : whole
  }
}
