import Foundation
import SchedModel
import SchedStore
import Synchronization

/// A memory store whose switch records can be made to fail: the commit (nothing is written)
/// or only the sync to disk (written, not durable). Everything else is the memory store's.
final class FaultyRecordStore: StateStore {
  enum Fault: Sendable {
    case none
    case commit
    case sync
  }

  private let base = MemoryStore()
  private let fault = Mutex(Fault.none)

  func arm(_ next: Fault) { fault.withLock { $0 = next } }

  func startSettingLive(_ name: String, to live: Color?, at: Date, events: [ClusterEvent])
    -> (committed: PendingWrite, durable: PendingWrite)
  {
    switch fault.withLock({ $0 }) {
    case .none:
      return base.startSettingLive(name, to: live, at: at, events: events)
    case .commit:
      let failed = PendingWrite()
      failed.finish(.failure(StoreError(.io, "disk I/O error (injected)")))
      return (failed, failed)
    case .sync:
      let (committed, _) = base.startSettingLive(name, to: live, at: at, events: events)
      let durable = PendingWrite()
      durable.finish(
        .failure(StoreError(.io, "cannot sync s.db-wal to disk: I/O error (injected)")))
      return (committed, durable)
    }
  }

  func clusterID() async throws(StoreError) -> String { await base.clusterID() }
  func nodes() async throws(StoreError) -> [Node] { await base.nodes() }
  func saveNode(_ node: Node, events: [ClusterEvent]) async throws(StoreError) {
    await base.saveNode(node, events: events)
  }
  func recordHeartbeat(node: NodeID, usage: HostUsage, at: Date) async throws(StoreError) {
    try await base.recordHeartbeat(node: node, usage: usage, at: at)
  }
  func allocations() async throws(StoreError) -> [Allocation] { await base.allocations() }
  func replaceAllocations(
    app: String, color: Color, with allocations: [Allocation], events: [ClusterEvent]
  ) async throws(StoreError) {
    try await base.replaceAllocations(app: app, color: color, with: allocations, events: events)
  }
  func apps() async throws(StoreError) -> [AppRecord] { await base.apps() }
  func saveApp(_ app: AppRecord, events: [ClusterEvent]) async throws(StoreError) {
    await base.saveApp(app, events: events)
  }
  func sets() async throws(StoreError) -> [SetRecord] { await base.sets() }
  func commitSet(
    app: AppRecord, color: Color, set: SetRecord?, allocations: [Allocation],
    events: [ClusterEvent]
  ) async throws(StoreError) {
    try await base.commitSet(
      app: app, color: color, set: set, allocations: allocations, events: events)
  }
  func appendEvents(_ events: [ClusterEvent]) async throws(StoreError) {
    await base.appendEvents(events)
  }
  func events(after: Int64, limit: Int) async throws(StoreError) -> [ClusterEvent] {
    await base.events(after: after, limit: limit)
  }
  func recentEvents(limit: Int) async throws(StoreError) -> [ClusterEvent] {
    await base.recentEvents(limit: limit)
  }
  func recordSamples(_ samples: [Sample], retention: Retention, now: Int64)
    async throws(StoreError)
  {
    await base.recordSamples(samples, retention: retention, now: now)
  }
  func samplePoints(series: [String], resolution: Int64, since: Int64) async throws(StoreError)
    -> [SamplePoint]
  {
    await base.samplePoints(series: series, resolution: resolution, since: since)
  }
  func saveVerification(_ verification: Verification, events: [ClusterEvent])
    async throws(StoreError)
  {
    await base.saveVerification(verification, events: events)
  }
  func verifications(app: String, digest: String?, limit: Int) async throws(StoreError)
    -> [Verification]
  {
    await base.verifications(app: app, digest: digest, limit: limit)
  }
}
