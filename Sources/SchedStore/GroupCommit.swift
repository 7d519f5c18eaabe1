import GRDB
import Synchronization

/// Group commit: writes that arrive while a transaction is being committed wait for it and
/// then go together in the next one, each in a savepoint of its own, so a burst of N writes
/// costs one sync of the log instead of N (a sync is milliseconds on a real disk; the lifecycle
/// awaits one per deploy, and concurrent deploys queue behind each other's syncs). A write that
/// fails rolls back to its savepoint and fails alone; a commit that fails fails every write in
/// it. Each caller hears of its write only once the transaction holding it is durable.
final class GroupCommit: Sendable {
  private let pool: DatabasePool
  /// Writes waiting for the next transaction, and whether a transaction is running.
  private let state = Mutex<(waiting: [any GroupedWrite], running: Bool)>(([], false))
  /// At most this many writes in one transaction (each its savepoint).
  static let batchLimit = 256

  init(pool: DatabasePool) { self.pool = pool }

  /// Runs `body` in the next group transaction; returns what it returned once that is durable.
  func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
    let outcome = await withCheckedContinuation { continuation in
      let write = Grouped(body: body, continuation: continuation)
      let start = state.withLock { state in
        state.waiting.append(write)
        defer { state.running = true }
        return !state.running
      }
      if start { Task.detached { await self.drain() } }
    }
    return try outcome.get()
  }

  /// Commits what waits, batch after batch, until nothing does.
  private func drain() async {
    while true {
      let batch: [any GroupedWrite] = state.withLock { state in
        let taken = Array(state.waiting.prefix(Self.batchLimit))
        state.waiting.removeFirst(taken.count)
        if taken.isEmpty { state.running = false }
        return taken
      }
      guard !batch.isEmpty else { return }
      do {
        try await pool.write { db in
          for write in batch { write.run(db) }
        }
        for write in batch { write.finish(committing: nil) }
      } catch {
        for write in batch { write.finish(committing: error) }
      }
    }
  }
}

/// One write of a group: run in its savepoint, then told how the transaction ended.
private protocol GroupedWrite: Sendable {
  func run(_ db: Database)
  func finish(committing error: (any Error)?)
}

private final class Grouped<T: Sendable>: GroupedWrite, @unchecked Sendable {
  let body: @Sendable (Database) throws -> T
  let continuation: CheckedContinuation<Result<T, any Error>, Never>
  /// Set by `run` on the writer's thread, read by `finish` after the transaction: never at
  /// the same time.
  private var outcome: Result<T, any Error>?

  init(
    body: @escaping @Sendable (Database) throws -> T,
    continuation: CheckedContinuation<Result<T, any Error>, Never>
  ) {
    self.body = body
    self.continuation = continuation
  }

  func run(_ db: Database) {
    var value: T?
    do {
      try db.inSavepoint {
        value = try body(db)
        return .commit
      }
      outcome = .success(value!)
    } catch {
      outcome = .failure(error)
    }
  }

  func finish(committing error: (any Error)?) {
    if let error {
      continuation.resume(returning: .failure(error))
    } else {
      continuation.resume(returning: outcome ?? .failure(StoreError(.io, "the write did not run")))
    }
  }
}
