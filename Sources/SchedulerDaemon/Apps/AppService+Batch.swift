import Lifecycle
import RouteTable
import SchedModel
import SchedStore

/// Deploys in batches: the deploys (and moves) that arrive while one batch is being placed
/// and recorded go together in the next. Each is decided by the core one after the other as
/// before, but the batch reads the cluster once, records its sets in one group transaction
/// (one sync of the log), publishes the routes once and pushes each node once: under many
/// deploys at a time, the per-deploy waits for the store, the cluster's owner and the router
/// hub are shared instead of queued one behind another.
extension AppService {
  /// A deploy or move waiting for its batch, and the caller waiting for its answer.
  struct QueuedPlacement {
    let event: LifecycleEvent
    let continuation: CheckedContinuation<Result<LifecycleReply, LifecycleError>, Never>
  }

  /// Feeds a deploy or move to the core with the others of its batch; its reply or refusal.
  func requestBatched(_ event: LifecycleEvent) async throws(LifecycleError) -> LifecycleReply {
    let result = await withCheckedContinuation { continuation in
      placementQueue.append(QueuedPlacement(event: event, continuation: continuation))
      startBatches()
    }
    return try result.get()
  }

  /// Batches at a time: one is placed on this actor while the one before it waits for the
  /// store to sync the log (slots placed but not recorded are held in the core meanwhile, so
  /// no two batches take the same room or host port).
  static let batchesInFlight = 2

  /// Starts a batch of what waits, unless as many as allowed are under way; each that ends
  /// starts the next.
  private func startBatches() {
    while !placementQueue.isEmpty, batchesRunning < Self.batchesInFlight {
      let batch = placementQueue
      placementQueue = []
      if batchesRunning > 0 { overlappedBatches += 1 }
      batchesRunning += 1
      Task {
        await self.place(batch)
        await self.batchEnded()
      }
    }
  }

  private func batchEnded() {
    batchesRunning -= 1
    startBatches()
  }

  private func place(_ batch: [QueuedPlacement]) async {
    var answers = [Result<LifecycleReply, LifecycleError>?](repeating: nil, count: batch.count)
    var writes: [(caller: Int, write: Write)] = []
    var others: [(caller: Int, action: LifecycleAction)] = []
    let observed = await observe()
    for (caller, queued) in batch.enumerated() {
      for action in core.handle(queued.event, observed) {
        switch action {
        case .reply(let reply): answers[caller] = .success(reply)
        case .refuse(let error): answers[caller] = .failure(error)
        case .persist(let write): writes.append((caller, write))
        default: others.append((caller, action))
        }
      }
    }
    // Every set of the batch in one group transaction (each write its own savepoint).
    let failures = await withTaskGroup(of: (Int, StoreError?).self) { group in
      for (number, entry) in writes.enumerated() {
        group.addTask {
          do throws(StoreError) {
            try await self.commit(entry.write)
            return (number, nil)
          } catch {
            return (number, error)
          }
        }
      }
      var failures: [Int: StoreError] = [:]
      for await (number, error) in group { if let error { failures[number] = error } }
      return failures
    }
    let after = await observe()
    var assign = Set<NodeID>()
    var table: RouteTable?
    // The route table once for the batch, after every set of it is in.
    core.deferringPublish = true
    for (number, entry) in writes.enumerated() {
      let next: LifecycleEvent
      if let error = failures[number] {
        logger.error("cannot record a change", metadata: ["error": "\(error)"])
        next = .recordFailed(entry.write, reason: error.message)
      } else {
        next = .recorded(entry.write)
      }
      for action in core.handle(next, after) {
        switch action {
        case .reply(let reply): answers[entry.caller] = .success(reply)
        case .refuse(let error): answers[entry.caller] = .failure(error)
        case .assign(let nodes): assign.formUnion(nodes)
        case .publish(let next): table = next
        default: others.append((entry.caller, action))
        }
      }
    }
    core.deferringPublish = false
    for action in core.publishDeferred(after) {
      if case .publish(let next) = action { table = next }
    }
    if let table { await routers.install(table) }
    if !assign.isEmpty { Task { await self.push(to: assign) } }
    for (caller, action) in others {
      await execute([action]) { answers[caller] = $0 }
    }
    for (caller, queued) in batch.enumerated() {
      queued.continuation.resume(returning: answers[caller] ?? .failure(Self.noAnswer))
    }
  }
}
