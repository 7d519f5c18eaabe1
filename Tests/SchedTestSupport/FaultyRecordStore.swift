import Foundation
import SchedModel
import SchedStore
import Synchronization

/// A memory store whose switch records can be made to fail: the commit (nothing is written)
/// or only the sync to disk (written, not durable). Everything else is the memory store's.
public final class FaultyRecordStore: StateStore {
  public enum Fault: Sendable {
    case none
    case commit
    case sync
  }

  private let base = MemoryStore()
  private let fault = Mutex(Fault.none)

  public init() {}

  public func arm(_ next: Fault) { fault.withLock { $0 = next } }

  public func startSettingLive(_ name: String, to live: Color?, at: Date, events: [ClusterEvent])
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

  public func clusterID() async throws(StoreError) -> String { await base.clusterID() }
  public func nodes() async throws(StoreError) -> [Node] { await base.nodes() }
  public func saveNode(_ node: Node, events: [ClusterEvent]) async throws(StoreError) {
    await base.saveNode(node, events: events)
  }
  public func recordHeartbeats(_ beats: [HeartbeatRecord]) async throws(StoreError) {
    await base.recordHeartbeats(beats)
  }
  public func allocations() async throws(StoreError) -> [Allocation] { await base.allocations() }
  public func replaceAllocations(
    app: String, color: Color, with allocations: [Allocation], events: [ClusterEvent]
  ) async throws(StoreError) {
    try await base.replaceAllocations(app: app, color: color, with: allocations, events: events)
  }
  public func apps() async throws(StoreError) -> [AppRecord] { await base.apps() }
  public func saveApp(_ app: AppRecord, events: [ClusterEvent]) async throws(StoreError) {
    await base.saveApp(app, events: events)
  }
  public func sets() async throws(StoreError) -> [SetRecord] { await base.sets() }
  public func commitSet(
    app: AppRecord, color: Color, set: SetRecord?, allocations: [Allocation],
    events: [ClusterEvent]
  ) async throws(StoreError) {
    try await base.commitSet(
      app: app, color: color, set: set, allocations: allocations, events: events)
  }
  public func appendEvents(_ events: [ClusterEvent]) async throws(StoreError) {
    await base.appendEvents(events)
  }
  public func events(after: Int64, limit: Int) async throws(StoreError) -> [ClusterEvent] {
    await base.events(after: after, limit: limit)
  }
  public func recentEvents(limit: Int) async throws(StoreError) -> [ClusterEvent] {
    await base.recentEvents(limit: limit)
  }
  public func recordSamples(_ samples: [Sample], retention: Retention, now: Int64)
    async throws(StoreError)
  {
    await base.recordSamples(samples, retention: retention, now: now)
  }
  public func samplePoints(series: [String], resolution: Int64, since: Int64)
    async throws(StoreError)
    -> [SamplePoint]
  {
    await base.samplePoints(series: series, resolution: resolution, since: since)
  }
  public func saveVerification(_ verification: Verification, events: [ClusterEvent])
    async throws(StoreError)
  {
    await base.saveVerification(verification, events: events)
  }
  public func verifications(app: String, digest: String?, limit: Int) async throws(StoreError)
    -> [Verification]
  {
    await base.verifications(app: app, digest: digest, limit: limit)
  }
  public func images() async throws(StoreError) -> [StoredImage] { await base.images() }
  public func saveImage(_ image: StoredImage, events: [ClusterEvent]) async throws(StoreError) {
    await base.saveImage(image, events: events)
  }
  public func deleteImages(_ references: [String], events: [ClusterEvent])
    async throws(StoreError)
  {
    await base.deleteImages(references, events: events)
  }
  public func registryCredentials() async throws(StoreError) -> [RegistryCredential] {
    await base.registryCredentials()
  }
  public func setRegistryCredential(
    _ credential: RegistryCredential?, registry: String, events: [ClusterEvent]
  ) async throws(StoreError) {
    await base.setRegistryCredential(credential, registry: registry, events: events)
  }
  public func saveBuild(_ build: BuildRecord, events: [ClusterEvent]) async throws(StoreError) {
    await base.saveBuild(build, events: events)
  }
  public func builds(app: String?, limit: Int) async throws(StoreError) -> [BuildRecord] {
    await base.builds(app: app, limit: limit)
  }
  public func secret(scope: String, name: String) async throws(StoreError) -> String? {
    await base.secret(scope: scope, name: name)
  }
  public func setSecret(_ value: String?, scope: String, name: String, events: [ClusterEvent])
    async throws(StoreError)
  {
    await base.setSecret(value, scope: scope, name: name, events: events)
  }
  public func removeNode(_ id: NodeID, at: Date, events: [ClusterEvent]) async throws(StoreError)
    -> Int
  {
    try await base.removeNode(id, at: at, events: events)
  }
  public func recordCertificate(_ certificate: IssuedCertificate, events: [ClusterEvent])
    async throws(StoreError)
  {
    await base.recordCertificate(certificate, events: events)
  }
  public func certificate(serial: String) async throws(StoreError) -> IssuedCertificate? {
    await base.certificate(serial: serial)
  }
  public func revokeCertificates(role: String, name: String, at: Date, events: [ClusterEvent])
    async throws(StoreError) -> Int
  {
    await base.revokeCertificates(role: role, name: name, at: at, events: events)
  }
  public func apiTokens() async throws(StoreError) -> [APITokenRecord] { await base.apiTokens() }
  public func addAPIToken(_ token: APITokenRecord, events: [ClusterEvent]) async throws(StoreError)
  {
    try await base.addAPIToken(token, events: events)
  }
  public func removeAPIToken(named name: String, events: [ClusterEvent]) async throws(StoreError)
    -> Bool
  {
    await base.removeAPIToken(named: name, events: events)
  }
  public func secrets(scope: String) async throws(StoreError) -> [String: String] {
    await base.secrets(scope: scope)
  }
}
