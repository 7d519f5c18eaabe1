import Foundation
import SchedModel

/// Durable cluster state. The scheduler owns this seam; SQLite in production, memory in tests.
/// Every method is one transaction: an operator's change is acknowledged only after it commits,
/// and a state change commits together with the events that describe it.
public protocol StateStore: Sendable {
  /// The cluster's id, made once with the database and never changed.
  func clusterID() async throws(StoreError) -> String
  func nodes() async throws(StoreError) -> [Node]
  /// Inserts or replaces a node, and appends `events` in the same transaction.
  func saveNode(_ node: Node, events: [ClusterEvent]) async throws(StoreError)
  /// Records heartbeats' reports (last seen, usage), all in one transaction; a node the store
  /// does not know (removed meanwhile) is skipped.
  func recordHeartbeats(_ beats: [HeartbeatRecord]) async throws(StoreError)

  func allocations() async throws(StoreError) -> [Allocation]
  /// Replaces the allocations of one set (app and color) and appends `events`.
  func replaceAllocations(
    app: String, color: Color, with allocations: [Allocation], events: [ClusterEvent]
  ) async throws(StoreError)

  func apps() async throws(StoreError) -> [AppRecord]
  /// Inserts or replaces an app's record, and appends `events`.
  func saveApp(_ app: AppRecord, events: [ClusterEvent]) async throws(StoreError)
  /// Sets the live color of app `name` and its update time, and appends `events`: a switch's
  /// record. Started before this returns (no task hop first), so it runs alongside other work.
  /// Two outcomes: `committed` once the transaction is committed (readers see it and it
  /// survives the scheduler's process dying), `durable` once it is also synced to disk
  /// (survives the host losing power). Fails with `conflict` when there is no such app.
  func startSettingLive(_ name: String, to live: Color?, at: Date, events: [ClusterEvent])
    -> (committed: PendingWrite, durable: PendingWrite)
  func sets() async throws(StoreError) -> [SetRecord]
  /// In one transaction: saves the app record, puts `set` in place of the app's set of `color`
  /// (removes it when nil), replaces that set's allocations, and appends `events`.
  func commitSet(
    app: AppRecord, color: Color, set: SetRecord?, allocations: [Allocation],
    events: [ClusterEvent]
  ) async throws(StoreError)

  func appendEvents(_ events: [ClusterEvent]) async throws(StoreError)
  /// Events with `seq` greater than `after`, oldest first, at most `limit`.
  func events(after: Int64, limit: Int) async throws(StoreError) -> [ClusterEvent]
  /// The newest `limit` events, newest first.
  func recentEvents(limit: Int) async throws(StoreError) -> [ClusterEvent]
  /// Adds samples to every tier's buckets and drops buckets older than each tier keeps.
  func recordSamples(_ samples: [Sample], retention: Retention, now: Int64)
    async throws(StoreError)
  /// Points of `series` at `resolution` from `since` (unix seconds), oldest first.
  func samplePoints(series: [String], resolution: Int64, since: Int64) async throws(StoreError)
    -> [SamplePoint]
  /// Inserts or replaces a verification (by id), with its events, in one transaction.
  func saveVerification(_ verification: Verification, events: [ClusterEvent])
    async throws(StoreError)
  /// An app's verifications, newest first; only those of `digest` when given.
  func verifications(app: String, digest: String?, limit: Int) async throws(StoreError)
    -> [Verification]
  /// The image store's references, oldest push first.
  func images() async throws(StoreError) -> [StoredImage]
  /// Inserts or replaces an image (by reference), with its events, in one transaction.
  func saveImage(_ image: StoredImage, events: [ClusterEvent]) async throws(StoreError)
  /// Removes images by reference (missing ones are fine), with their events.
  func deleteImages(_ references: [String], events: [ClusterEvent]) async throws(StoreError)
  /// Credentials per registry.
  func registryCredentials() async throws(StoreError) -> [RegistryCredential]
  /// Inserts or replaces the credential of `credential.registry`; nil `credential` with
  /// `registry` removes it. Events in the same transaction.
  func setRegistryCredential(
    _ credential: RegistryCredential?, registry: String, events: [ClusterEvent]
  ) async throws(StoreError)
  /// Inserts or replaces a build (by id), with its events, in one transaction.
  func saveBuild(_ build: BuildRecord, events: [ClusterEvent]) async throws(StoreError)
  /// Builds, newest first (by number within an app); only `app`'s when given.
  func builds(app: String?, limit: Int) async throws(StoreError) -> [BuildRecord]
  /// A secret the scheduler keeps (`scope` like `hook`, `name` like the app), if set.
  func secret(scope: String, name: String) async throws(StoreError) -> String?
  /// Every secret of `scope`, by name.
  func secrets(scope: String) async throws(StoreError) -> [String: String]
  /// Sets (or with nil, removes) a secret, with its events, in one transaction.
  func setSecret(_ value: String?, scope: String, name: String, events: [ClusterEvent])
    async throws(StoreError)
  /// Removes a node that holds no allocations and revokes every agent certificate issued to
  /// it, with the events, in one transaction; returns how many certificates were revoked.
  /// A node that still holds allocations is refused (`conflict`), and nothing changes.
  func removeNode(_ id: NodeID, at: Date, events: [ClusterEvent]) async throws(StoreError) -> Int
  /// Records a certificate the cluster CA issued, with its events.
  func recordCertificate(_ certificate: IssuedCertificate, events: [ClusterEvent])
    async throws(StoreError)
  /// The issued certificate with this serial, if any.
  func certificate(serial: String) async throws(StoreError) -> IssuedCertificate?
  /// Revokes every certificate issued to `name` in `role` that is not yet revoked, with the
  /// events; returns how many were.
  func revokeCertificates(role: String, name: String, at: Date, events: [ClusterEvent])
    async throws(StoreError) -> Int
  /// The operators' API tokens, by name.
  func apiTokens() async throws(StoreError) -> [APITokenRecord]
  /// Adds a token, with its events; a name or hash already there is refused (`conflict`).
  func addAPIToken(_ token: APITokenRecord, events: [ClusterEvent]) async throws(StoreError)
  /// Removes the token named `name`, with its events; false (and no events) when none is.
  func removeAPIToken(named name: String, events: [ClusterEvent]) async throws(StoreError) -> Bool
}

/// The error of the store module.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    /// The database could not be opened or migrated.
    case open
    /// A read or write failed.
    case io
    /// The change refers to something that does not exist, or breaks a constraint.
    case conflict
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}

/// What the store keeps of a node's latest heartbeat.
public struct HeartbeatRecord: Sendable, Hashable {
  public var node: NodeID
  public var usage: HostUsage
  public var at: Date

  public init(node: NodeID, usage: HostUsage, at: Date) {
    self.node = node
    self.usage = usage
    self.at = at
  }
}
