import Foundation
import SchedModel

/// An in-memory `StateStore` with the same rules as the SQLite one; for tests and simulation.
public actor MemoryStore: StateStore {
  private var nodeRows: [NodeID: Node] = [:]
  private var allocationRows: [SlotID: Allocation] = [:]
  private var eventRows: [ClusterEvent] = []
  private var appRows: [String: AppRecord] = [:]
  private var setRows: [String: SetRecord] = [:]

  private let cluster: String
  /// How long each set's commit takes, as a disk's sync would (zero: at once).
  private let commitDelay: Duration

  public init(clusterID: String = ClusterID.random(), commitDelay: Duration = .zero) {
    cluster = clusterID
    self.commitDelay = commitDelay
  }

  public func clusterID() -> String { cluster }

  public func nodes() -> [Node] {
    nodeRows.values.sorted { $0.id < $1.id }
  }

  public func saveNode(_ node: Node, events: [ClusterEvent]) {
    nodeRows[node.id] = node
    append(events)
  }

  public func recordHeartbeats(_ beats: [HeartbeatRecord]) {
    for beat in beats where nodeRows[beat.node] != nil {
      nodeRows[beat.node]!.usage = beat.usage
      nodeRows[beat.node]!.lastHeartbeatAt = beat.at
    }
  }

  public func allocations() -> [Allocation] {
    allocationRows.values.sorted { $0.slot < $1.slot }
  }

  public func replaceAllocations(
    app: String, color: Color, with allocations: [Allocation], events: [ClusterEvent]
  ) throws(StoreError) {
    var next = allocationRows.filter { $0.key.app != app || $0.key.color != color }
    for allocation in allocations {
      guard allocation.slot.app == app, allocation.slot.color == color else {
        throw StoreError(.conflict, "allocation \(allocation.slot) is not of set \(app)/\(color)")
      }
      guard nodeRows[allocation.node] != nil else {
        throw StoreError(
          .conflict, "allocation \(allocation.slot) names unknown node '\(allocation.node)'")
      }
      if next.values.contains(where: {
        $0.node == allocation.node && $0.hostPort == allocation.hostPort
      }) {
        throw StoreError(
          .conflict,
          "host port \(allocation.hostPort) on node '\(allocation.node)' is already allocated")
      }
      next[allocation.slot] = allocation
    }
    allocationRows = next
    append(events)
  }

  public func apps() -> [AppRecord] {
    appRows.values.sorted { $0.name < $1.name }
  }

  public func saveApp(_ app: AppRecord, events: [ClusterEvent]) {
    appRows[app.name] = app
    append(events)
  }

  public nonisolated func startSettingLive(
    _ name: String, to live: Color?, at: Date, events: [ClusterEvent]
  ) -> (committed: PendingWrite, durable: PendingWrite) {
    let pending = PendingWrite()
    Task { pending.finish(await self.setLive(name, to: live, at: at, events: events)) }
    // Memory is as durable as it gets here.
    return (pending, pending)
  }

  private func setLive(_ name: String, to live: Color?, at: Date, events: [ClusterEvent])
    -> Result<Void, StoreError>
  {
    guard var app = appRows[name] else {
      return .failure(StoreError(.conflict, "no app named '\(name)'"))
    }
    app.live = live
    app.updatedAt = at
    appRows[name] = app
    append(events)
    return .success(())
  }

  private var verificationRows: [String: Verification] = [:]
  private var imageRows: [String: StoredImage] = [:]
  private var credentialRows: [String: RegistryCredential] = [:]
  private var buildRows: [String: (order: Int, build: BuildRecord)] = [:]
  private var secretRows: [String: String] = [:]
  private var certificateRows: [String: IssuedCertificate] = [:]
  private var tokenRows: [String: APITokenRecord] = [:]
  private struct SampleKey: Hashable {
    var series: String
    var resolution: Int64
    var start: Int64
  }
  private var sampleRows: [SampleKey: (total: Double, count: Int64)] = [:]

  public func recordSamples(_ samples: [Sample], retention: Retention, now: Int64) {
    for tier in retention.tiers {
      for sample in samples {
        let key = SampleKey(
          series: sample.series, resolution: tier.resolution,
          start: Retention.bucket(sample.at, tier))
        let row = sampleRows[key] ?? (0, 0)
        sampleRows[key] = (row.total + sample.value, row.count + 1)
      }
      let cutoff = Retention.cutoff(now: now, tier)
      sampleRows = sampleRows.filter {
        $0.key.resolution != tier.resolution || $0.key.start >= cutoff
      }
    }
  }

  public func samplePoints(series: [String], resolution: Int64, since: Int64) -> [SamplePoint] {
    sampleRows.filter {
      series.contains($0.key.series) && $0.key.resolution == resolution && $0.key.start >= since
    }.map {
      SamplePoint(
        series: $0.key.series, resolution: resolution, start: $0.key.start,
        mean: $0.value.total / Double(max($0.value.count, 1)), count: $0.value.count)
    }.sorted { ($0.start, $0.series) < ($1.start, $1.series) }
  }

  public func saveVerification(_ verification: Verification, events: [ClusterEvent]) {
    verificationRows[verification.id] = verification
    append(events)
  }

  public func verifications(app: String, digest: String?, limit: Int) -> [Verification] {
    Array(
      verificationRows.values.filter { $0.app == app && (digest == nil || $0.digest == digest) }
        .sorted { $0.startedAt > $1.startedAt }.prefix(limit))
  }

  public func images() -> [StoredImage] {
    imageRows.values.sorted { ($0.pushedAt, $0.reference) < ($1.pushedAt, $1.reference) }
  }

  public func saveImage(_ image: StoredImage, events: [ClusterEvent]) {
    imageRows[image.reference] = image
    append(events)
  }

  public func deleteImages(_ references: [String], events: [ClusterEvent]) {
    for reference in references { imageRows[reference] = nil }
    append(events)
  }

  public func registryCredentials() -> [RegistryCredential] {
    credentialRows.values.sorted { $0.registry < $1.registry }
  }

  public func setRegistryCredential(
    _ credential: RegistryCredential?, registry: String, events: [ClusterEvent]
  ) {
    credentialRows[registry] = credential
    append(events)
  }

  public func saveBuild(_ build: BuildRecord, events: [ClusterEvent]) {
    buildRows[build.id] = (buildRows[build.id]?.order ?? buildRows.count, build)
    append(events)
  }

  public func builds(app: String?, limit: Int) -> [BuildRecord] {
    let rows = buildRows.values.filter { app == nil || $0.build.app == app }
    let sorted =
      app == nil
      ? rows.sorted { $0.order > $1.order }.map(\.build)
      : rows.map(\.build).sorted { $0.number > $1.number }
    return Array(sorted.prefix(limit))
  }

  public func secret(scope: String, name: String) -> String? { secretRows["\(scope)/\(name)"] }

  public func secrets(scope: String) -> [String: String] {
    var out: [String: String] = [:]
    for (key, value) in secretRows where key.hasPrefix(scope + "/") {
      out[String(key.dropFirst(scope.count + 1))] = value
    }
    return out
  }

  public func setSecret(_ value: String?, scope: String, name: String, events: [ClusterEvent]) {
    secretRows["\(scope)/\(name)"] = value
    append(events)
  }

  public func removeNode(_ id: NodeID, at: Date, events: [ClusterEvent]) throws(StoreError) -> Int {
    guard nodeRows[id] != nil else { throw StoreError(.conflict, "no node '\(id)'") }
    let held = allocationRows.values.filter { $0.node == id }.count
    guard held == 0 else {
      throw StoreError(.conflict, "node '\(id)' still holds \(held) slot(s)")
    }
    nodeRows[id] = nil
    return revokeCertificates(role: "agent", name: id.rawValue, at: at, events: events)
  }

  public func recordCertificate(_ certificate: IssuedCertificate, events: [ClusterEvent]) {
    certificateRows[certificate.serial] = certificate
    append(events)
  }

  public func certificate(serial: String) -> IssuedCertificate? { certificateRows[serial] }

  public func revokeCertificates(role: String, name: String, at: Date, events: [ClusterEvent])
    -> Int
  {
    let serials = certificateRows.values.filter {
      $0.role == role && $0.name == name && $0.revokedAt == nil
    }.map(\.serial)
    for serial in serials { certificateRows[serial]?.revokedAt = at }
    append(events)
    return serials.count
  }

  public func apiTokens() -> [APITokenRecord] { tokenRows.values.sorted { $0.name < $1.name } }

  public func addAPIToken(_ token: APITokenRecord, events: [ClusterEvent]) throws(StoreError) {
    guard tokenRows[token.name] == nil else {
      throw StoreError(.conflict, "a token named '\(token.name)' exists")
    }
    guard !tokenRows.values.contains(where: { $0.hash == token.hash }) else {
      throw StoreError(.conflict, "the change breaks a constraint: api_tokens.hash")
    }
    tokenRows[token.name] = token
    append(events)
  }

  public func removeAPIToken(named name: String, events: [ClusterEvent]) -> Bool {
    guard tokenRows.removeValue(forKey: name) != nil else { return false }
    append(events)
    return true
  }

  public func sets() -> [SetRecord] {
    setRows.values.sorted { ($0.app, $0.color) < ($1.app, $1.color) }
  }

  public func commitSet(
    app: AppRecord, color: Color, set: SetRecord?, allocations: [Allocation],
    events: [ClusterEvent]
  ) async throws(StoreError) {
    if commitDelay > .zero { try? await Task.sleep(for: commitDelay) }
    if let set, set.app != app.name || set.color != color {
      throw StoreError(
        .conflict, "set \(set.app)/\(set.color) does not belong to \(app.name)/\(color)")
    }
    // replaceAllocations checks everything before it changes anything, so a refusal here
    // leaves the store as it was, like the SQLite transaction.
    try replaceAllocations(app: app.name, color: color, with: allocations, events: events)
    appRows[app.name] = app
    setRows["\(app.name)/\(color.rawValue)"] = set
  }

  public func appendEvents(_ events: [ClusterEvent]) {
    append(events)
  }

  public func events(after: Int64, limit: Int) -> [ClusterEvent] {
    Array(eventRows.filter { $0.seq! > after }.prefix(max(0, limit)))
  }

  public func recentEvents(limit: Int) -> [ClusterEvent] {
    Array(eventRows.suffix(max(0, limit)).reversed())
  }

  private func append(_ events: [ClusterEvent]) {
    for var event in events {
      event.seq = Int64(eventRows.count + 1)
      eventRows.append(event)
    }
  }
}
