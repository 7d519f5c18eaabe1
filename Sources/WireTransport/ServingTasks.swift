import Synchronization

/// The tasks serving a listener's connections, one unstructured task each, with what a task
/// group would give: cancel them all, wait for them all.
///
/// A task group with a child per connection made each child's end walk the list of its
/// siblings (Swift's runtime keeps them in a linked list): with 10,000 nodes connected, all of
/// them dropping at once (a network blip, the scheduler's own shutdown) cost seconds of a
/// core, quadratic in the nodes. Here a task's end is one dictionary removal.
final class ServingTasks: Sendable {
  private struct State {
    var tasks: [UInt64: Task<Void, Never>] = [:]
    var next: UInt64 = 0
    var cancelled = false
    var waiting: [CheckedContinuation<Void, Never>] = []
  }

  private let state = Mutex(State())

  /// Serves with `body` in a task of its own; cancelled at once if `cancelAll` came first.
  func start(_ body: @escaping @Sendable () async -> Void) {
    state.withLock { state in
      let id = state.next
      state.next += 1
      // Made under the lock: the task's own `ended` (which takes it) cannot come before
      // the task is listed.
      let task = Task { [self] in
        await body()
        ended(id)
      }
      state.tasks[id] = task
      if state.cancelled { task.cancel() }
    }
  }

  private func ended(_ id: UInt64) {
    let resume = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.tasks[id] = nil
      guard state.tasks.isEmpty else { return [] }
      defer { state.waiting = [] }
      return state.waiting
    }
    for continuation in resume { continuation.resume() }
  }

  /// Cancels every task, and any started from now on.
  func cancelAll() {
    let tasks = state.withLock { state in
      state.cancelled = true
      return Array(state.tasks.values)
    }
    for task in tasks { task.cancel() }
  }

  /// Returns once no task is left.
  func waitForAll() async {
    await withCheckedContinuation { continuation in
      let now = state.withLock { state in
        if state.tasks.isEmpty { return true }
        state.waiting.append(continuation)
        return false
      }
      if now { continuation.resume() }
    }
  }

  /// Tasks still serving.
  var count: Int { state.withLock { $0.tasks.count } }
}
