import Foundation
import RouteTable
import SchedModel
import SchedWire
import Synchronization
import WireTransport

/// The served route table compiled for lookups on the request path. Immutable; a switch
/// publishes a new one, so every event loop sees either the old epoch or the new, never a mix.
final class CompiledRoutes: Sendable {
  let table: RouteTable
  /// Unique to this compilation, never reused: what a connection's `RouteMemo` checks.
  let id: UInt64
  private static let ids = Atomic<UInt64>(0)
  private let byHost: [String: AppRoutes]
  private let byName: [String: AppRoutes]

  init(_ table: RouteTable) {
    self.table = table
    id = Self.ids.wrappingAdd(1, ordering: .relaxed).newValue
    var byHost: [String: AppRoutes] = [:]
    var byName: [String: AppRoutes] = [:]
    for app in table.apps {
      byName[app.app] = app
      for host in app.hosts { byHost[host] = app }
    }
    self.byHost = byHost
    self.byName = byName
  }

  /// `RouteTable.app(forHost:defaultApp:)` with the hosts indexed: the same answer, no scan.
  func app(forHost host: String?, defaultApp: String?) -> AppRoutes? {
    if let host, !byHost.isEmpty, let app = byHost[RouteTable.bareHost(host)] { return app }
    if let defaultApp { return byName[defaultApp] }
    return table.apps.count == 1 ? table.apps[0] : nil
  }
}

/// The router's tables: what it serves, what it holds prepared, and the file that keeps the
/// served one across restarts. Shared by the control session and every event loop.
final class RouteState: Sendable {
  private let tables: Mutex<RouterTables>
  private let served: Mutex<CompiledRoutes>
  private let file: TableFile?
  /// The ACME challenges this router answers on its plain listener.
  let challenges = ChallengeTokens()
  /// The cluster id the state file names (the cluster this router joined), if any.
  let savedCluster: String?
  /// The HTTPS certificates the state file holds, if any.
  let savedCertificates: EdgeCertificates?

  /// Loads the saved table when there is one; a damaged file is an error, not an empty table.
  init(stateFile: String?, onError: @escaping @Sendable (RouterError) -> Void = { _ in })
    throws(RouterError)
  {
    var initial = RouteTable.empty
    var cluster: String? = nil
    var certificates: EdgeCertificates? = nil
    if let stateFile {
      let file = TableFile(path: stateFile, onError: onError)
      if let saved = try file.load() {
        initial = saved.table
        cluster = saved.cluster
        certificates = saved.certificates
      }
      self.file = file
    } else {
      self.file = nil
    }
    savedCluster = cluster
    savedCertificates = certificates
    tables = Mutex(RouterTables(current: initial))
    served = Mutex(CompiledRoutes(initial))
  }

  /// What the request path reads: one lock, one reference.
  var current: CompiledRoutes { served.withLock { $0 } }

  var epoch: Int64 { current.table.epoch }

  func prepare(_ table: RouteTable, removed: Set<String> = []) throws(RouteError) {
    try tables.withLock { (tables: inout RouterTables) throws(RouteError) in
      try tables.prepare(table, removed: removed)
    }
  }

  /// Writes down the cluster this router now belongs to, with the served table, before
  /// returning: a router must not forget its cluster by crashing.
  func pinCluster(_ id: String) throws(RouterError) {
    guard let file else { return }
    try file.pin(id, table: current.table)
  }

  /// Serves the prepared table of `epoch`; returns it.
  @discardableResult
  func commit(epoch: Int64) throws(RouteError) -> RouteTable {
    let table = try tables.withLock { (tables: inout RouterTables) throws(RouteError) in
      let before = tables.current.epoch
      let table = try tables.commit(epoch: epoch)
      if table.epoch != before { served.withLock { $0 = CompiledRoutes(table) } }
      return table
    }
    file?.save(table)
    return table
  }

  /// Keeps `certificates` in the state file (0600: they hold keys), with the served table.
  func saveCertificates(_ certificates: EdgeCertificates) {
    file?.saveCertificates(certificates, table: current.table)
  }

  /// Waits until the served table is on disk.
  func flush() { file?.flush() }

  func abort(epoch: Int64) {
    tables.withLock { $0.abort(epoch: epoch) }
  }

  /// Serves `table` at once when it is newer than the served one; refuses one that leaves out
  /// a served app not in `removed`.
  @discardableResult
  func install(_ table: RouteTable, removed: Set<String> = []) throws(RouteError) -> Bool {
    let taken = try tables.withLock { (tables: inout RouterTables) throws(RouteError) -> Bool in
      guard try tables.install(table, removed: removed) else { return false }
      served.withLock { $0 = CompiledRoutes(table) }
      return true
    }
    if taken { file?.save(table) }
    return taken
  }
}

/// What the state file holds: the served table's fields, and beside them the id of the cluster
/// the router joined (`"cluster"`; files written before it have none).
struct SavedRoutes: Codable, Sendable {
  var table: RouteTable
  var cluster: String?
  /// The HTTPS certificates (and keys) the scheduler last sent.
  var certificates: EdgeCertificates?

  init(table: RouteTable, cluster: String?, certificates: EdgeCertificates? = nil) {
    self.table = table
    self.cluster = cluster
    self.certificates = certificates
  }

  enum CodingKeys: String, CodingKey { case cluster, certificates }

  init(from decoder: any Decoder) throws {
    table = try RouteTable(from: decoder)
    let container = try decoder.container(keyedBy: CodingKeys.self)
    cluster = try container.decodeIfPresent(String.self, forKey: .cluster)
    certificates = try container.decodeIfPresent(EdgeCertificates.self, forKey: .certificates)
  }

  func encode(to encoder: any Encoder) throws {
    try table.encode(to: encoder)
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encodeIfPresent(cluster, forKey: .cluster)
    try container.encodeIfPresent(certificates, forKey: .certificates)
  }
}

/// The route table on disk: JSON, replaced atomically (write, fsync, rename) so a crash leaves
/// the old table or the new one, never half of one. Saves happen off the request path, newest
/// epoch wins.
final class TableFile: Sendable {
  let path: String
  private let pending = Mutex<RouteTable?>(nil)
  /// The cluster id written with every table.
  private let cluster = Mutex<String?>(nil)
  /// The HTTPS certificates written with every table.
  private let certificates = Mutex<EdgeCertificates?>(nil)
  private let queue = DispatchQueue(label: "turnout.router.table-file")
  private let onError: @Sendable (RouterError) -> Void

  init(path: String, onError: @escaping @Sendable (RouterError) -> Void = { _ in }) {
    self.path = path
    self.onError = onError
  }

  func load() throws(RouterError) -> SavedRoutes? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    do {
      let data = try Data(contentsOf: URL(fileURLWithPath: path))
      let saved = try JSONDecoder().decode(SavedRoutes.self, from: data)
      cluster.withLock { $0 = saved.cluster }
      certificates.withLock { $0 = saved.certificates }
      return saved
    } catch {
      throw RouterError(
        .stateFile,
        "cannot read the saved route table \(path): \(error); move the file away to start empty (the scheduler sends the table again)"
      )
    }
  }

  /// Queues `table` for writing on the file's own queue; a newer table queued meanwhile wins.
  func save(_ table: RouteTable) {
    pending.withLock { queued in
      if (queued?.epoch ?? .min) < table.epoch { queued = table }
    }
    queue.async { [self] in
      guard
        let next = pending.withLock({ queued in
          defer { queued = nil }
          return queued
        })
      else { return }
      do { try write(next) } catch let error as RouterError { onError(error) } catch {
        onError(RouterError(.stateFile, "\(error)"))
      }
    }
  }

  /// Keeps `set` with the next write, and writes `table` with it now (queued as a save).
  func saveCertificates(_ set: EdgeCertificates, table: RouteTable) {
    certificates.withLock { $0 = set }
    pending.withLock { queued in
      if queued == nil || queued!.epoch < table.epoch { queued = table }
    }
    queue.async { [self] in
      guard
        let next = pending.withLock({ queued in
          defer { queued = nil }; return queued
        })
      else {
        return
      }
      do { try write(next) } catch let error as RouterError { onError(error) } catch {
        onError(RouterError(.stateFile, "\(error)"))
      }
    }
  }

  /// Waits until every queued save is on disk.
  func flush() { queue.sync {} }

  /// Records the cluster id and writes it with `table` now, on the file's queue.
  func pin(_ id: String, table: RouteTable) throws(RouterError) {
    cluster.withLock { $0 = id }
    let result: Result<Void, RouterError> = queue.sync {
      do throws(RouterError) {
        try write(table)
        return .success(())
      } catch {
        return .failure(error)
      }
    }
    try result.get()
  }

  func write(_ table: RouteTable) throws(RouterError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    let data: Data
    let saved = SavedRoutes(
      table: table, cluster: cluster.withLock { $0 }, certificates: certificates.withLock { $0 })
    do { data = try encoder.encode(saved) } catch {
      throw RouterError(.stateFile, "cannot encode the route table: \(error)")
    }
    do {
      // 0600: with HTTPS the file holds the certificates' keys.
      try AtomicFile.write(data, to: path, mode: 0o600)
    } catch {
      throw RouterError(.stateFile, error.message)
    }
  }
}
