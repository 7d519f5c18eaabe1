import Synchronization

/// A write that has been handed to the store and may still be running. Starting a write and
/// waiting for it are separate, so a caller can start a synced write at once and overlap it
/// with other work (a switch overlaps its record with the routers' prepare).
public final class PendingWrite: Sendable {
  private enum State {
    case running([CheckedContinuation<Result<Void, StoreError>, Never>])
    case done(Result<Void, StoreError>)
  }

  private let state = Mutex(State.running([]))

  public init() {}

  /// Ends the write; waiters wake with `result`. Later calls are ignored.
  public func finish(_ result: Result<Void, StoreError>) {
    let waiters: [CheckedContinuation<Result<Void, StoreError>, Never>] = state.withLock {
      guard case .running(let waiters) = $0 else { return [] }
      $0 = .done(result)
      return waiters
    }
    for waiter in waiters { waiter.resume(returning: result) }
  }

  /// The write's outcome, once it is known.
  public var result: Result<Void, StoreError> {
    get async {
      await withCheckedContinuation { continuation in
        let done: Result<Void, StoreError>? = state.withLock {
          switch $0 {
          case .done(let result):
            return result
          case .running(var waiters):
            waiters.append(continuation)
            $0 = .running(waiters)
            return nil
          }
        }
        if let done { continuation.resume(returning: done) }
      }
    }
  }

  /// Waits for the write; throws its error.
  public func value() async throws(StoreError) {
    try await result.get()
  }
}
