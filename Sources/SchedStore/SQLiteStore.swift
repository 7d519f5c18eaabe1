import Foundation
import GRDB
import SchedModel
import Synchronization

/// The production `StateStore`: SQLite through GRDB, in WAL mode with `synchronous=FULL`, so a
/// committed change survives a crash of the process or the host.
///
/// Checkpoints (copying the write-ahead log into the database file and syncing it) run on a
/// connection of their own every `checkpointEvery`, never inside a commit: SQLite's automatic
/// checkpoint would run in whichever commit crosses the log's threshold, and that can be a
/// switch's.
public final class SQLiteStore: StateStore {
  let pool: DatabasePool
  let path: String
  private let checkpointer: DatabaseQueue
  /// Every `write` goes through it: concurrent writes share a transaction and its sync.
  private let group: GroupCommit
  private let checkpointTask: Task<Void, Never>
  /// Each app's spec as last written, with its JSON: a deploy writes the app's record again
  /// with its set, nearly always with the same spec, and encoding it was 2% of the
  /// scheduler's CPU during deploys.
  private let specs = Mutex<[String: (spec: AppSpec, json: String)]>([:])

  /// Opens (creating if needed) the database at `path` and brings its schema up to date.
  /// Creates `path` empty with mode 0600 when it is not there yet.
  static func restrict(_ path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    if fd >= 0 { close(fd) }
  }

  public init(path: String, checkpointEvery: Duration = .seconds(2)) throws(StoreError) {
    var configuration = Configuration()
    configuration.prepareDatabase { db in
      try db.execute(sql: "PRAGMA synchronous = FULL")
      try db.execute(sql: "PRAGMA foreign_keys = ON")
      try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
    }
    configuration.busyMode = .timeout(5)
    self.path = path
    do {
      let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      // The database holds the cluster's tokens and records: its owner alone reads it. SQLite
      // gives the -wal and -shm files the database file's mode.
      Self.restrict(path)
      pool = try DatabasePool(path: path, configuration: configuration)
      for file in [path, path + "-wal", path + "-shm"] { chmod(file, 0o600) }
      // GRDB sets the pool's writer to NORMAL when it turns WAL on (a commit then waits for no
      // sync, and the last ones can be lost with the host); FULL syncs the log at every commit.
      try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
      try Schema.migrator.migrate(pool)
      checkpointer = try DatabaseQueue(path: path, configuration: configuration)
      group = GroupCommit(pool: pool)
    } catch {
      throw StoreError(
        .open,
        "cannot open the state database at \(path): \(error). Check that the directory is writable and the file is a Turnout database."
      )
    }
    checkpointTask = Task.detached { [checkpointer] in
      while !Task.isCancelled {
        try? await Task.sleep(for: checkpointEvery)
        _ = try? await Self.checkpoint(checkpointer)
      }
    }
  }

  deinit { checkpointTask.cancel() }

  /// Copies what the write-ahead log holds into the database file without waiting for readers
  /// or blocking writers (a passive checkpoint). Returns the log's frames and how many of them
  /// are now in the database file.
  @discardableResult
  public func checkpoint() async throws(StoreError) -> (logFrames: Int, checkpointed: Int) {
    do {
      return try await Self.checkpoint(checkpointer)
    } catch {
      throw Self.wrap(error)
    }
  }

  private static func checkpoint(_ queue: DatabaseQueue) async throws -> (Int, Int) {
    try await queue.writeWithoutTransaction { db in
      let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
      return (row?[1] ?? 0, row?[2] ?? 0)
    }
  }

  /// The journal mode and synchronous setting in force, for tests and `--help`-level diagnostics.
  public func pragmas() async throws(StoreError) -> (
    journalMode: String, synchronous: Int, autoCheckpoint: Int
  ) {
    try await write { db in
      let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?"
      let sync = try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
      let auto = try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? -1
      return (mode, sync, auto)
    }
  }

  public func nodes() async throws(StoreError) -> [Node] {
    try await read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM nodes ORDER BY id").map(Self.node(from:))
    }
  }

  public func saveNode(_ node: Node, events: [ClusterEvent]) async throws(StoreError) {
    let labels = String(decoding: try encodeLabels(node.spec.labels), as: UTF8.self)
    try await write { db in
      try db.execute(
        sql: """
          INSERT INTO nodes (id, name, address, cpu_millis, memory_bytes, port_low, port_high,
            labels, state, generation, registered_at, last_heartbeat_at,
            cpu_used_millis, memory_used_bytes, memory_available_bytes)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET name = excluded.name, address = excluded.address,
            cpu_millis = excluded.cpu_millis, memory_bytes = excluded.memory_bytes,
            port_low = excluded.port_low, port_high = excluded.port_high, labels = excluded.labels,
            state = excluded.state, generation = excluded.generation,
            registered_at = excluded.registered_at, last_heartbeat_at = excluded.last_heartbeat_at,
            cpu_used_millis = excluded.cpu_used_millis,
            memory_used_bytes = excluded.memory_used_bytes,
            memory_available_bytes = excluded.memory_available_bytes
          """,
        arguments: [
          node.id.rawValue, node.spec.name, node.spec.address, node.spec.capacity.cpuMillis,
          node.spec.capacity.memoryBytes, node.spec.ports.low, node.spec.ports.high, labels,
          node.state.rawValue, node.generation, node.registeredAt.timeIntervalSince1970,
          node.lastHeartbeatAt?.timeIntervalSince1970, node.usage?.cpuUsedMillis,
          node.usage?.memoryUsedBytes, node.usage?.memoryAvailableBytes,
        ])
      try Self.insert(events, db)
    }
  }

  public func recordHeartbeats(_ beats: [HeartbeatRecord]) async throws(StoreError) {
    guard !beats.isEmpty else { return }
    try await write { db in
      let update = try db.makeStatement(
        sql: """
          UPDATE nodes SET last_heartbeat_at = ?, cpu_used_millis = ?, memory_used_bytes = ?,
            memory_available_bytes = ? WHERE id = ?
          """)
      for beat in beats {
        try update.execute(arguments: [
          beat.at.timeIntervalSince1970, beat.usage.cpuUsedMillis, beat.usage.memoryUsedBytes,
          beat.usage.memoryAvailableBytes, beat.node.rawValue,
        ])
      }
    }
  }

  public func allocations() async throws(StoreError) -> [Allocation] {
    try await read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM allocations ORDER BY app, color, slot_index")
        .map { row in
          Allocation(
            slot: SlotID(
              app: row["app"], color: Color(rawValue: row["color"]) ?? .blue,
              index: row["slot_index"]),
            node: NodeID(row["node_id"] as String), hostPort: row["host_port"],
            resources: Resources(cpuMillis: row["cpu_millis"], memoryBytes: row["memory_bytes"]))
        }
    }
  }

  public func replaceAllocations(
    app: String, color: Color, with allocations: [Allocation], events: [ClusterEvent]
  ) async throws(StoreError) {
    try await write { db in
      try Self.replace(allocations, app: app, color: color, db)
      try Self.insert(events, db)
    }
  }

  /// Runs one statement of the hot write paths (a deploy's set, allocations and events)
  /// through the connection's cache of prepared statements: compiled once, not per row.
  static func run(_ db: Database, _ sql: String, _ arguments: StatementArguments) throws {
    try db.cachedStatement(sql: sql).execute(arguments: arguments)
  }

  static func replace(
    _ allocations: [Allocation], app: String, color: Color, _ db: Database
  ) throws {
    try run(db, "DELETE FROM allocations WHERE app = ? AND color = ?", [app, color.rawValue])
    for allocation in allocations {
      guard allocation.slot.app == app, allocation.slot.color == color else {
        throw StoreError(.conflict, "allocation \(allocation.slot) is not of set \(app)/\(color)")
      }
      try run(
        db,
        """
        INSERT INTO allocations (app, color, slot_index, node_id, host_port, cpu_millis, memory_bytes)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        """,
        [
          app, color.rawValue, allocation.slot.index, allocation.node.rawValue,
          allocation.hostPort, allocation.resources.cpuMillis, allocation.resources.memoryBytes,
        ])
    }
  }

  static func upsert(_ app: AppRecord, spec: String, _ db: Database) throws {
    try run(
      db,
      """
      INSERT INTO apps (name, spec, live_color, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, live_color = excluded.live_color,
        updated_at = excluded.updated_at
      """,
      [app.name, spec, app.live?.rawValue, app.updatedAt.timeIntervalSince1970])
  }

  static var json: JSONDecoder { JSONDecoder() }

  /// The JSON of an app's spec, encoded again only when the spec changed.
  func specJSON(_ app: AppRecord) throws(StoreError) -> String {
    if let kept = specs.withLock({ $0[app.name] }), kept.spec == app.spec { return kept.json }
    let json = try encodeJSON(app.spec)
    specs.withLock { $0[app.name] = (app.spec, json) }
    return json
  }

  func encodeJSON(_ value: some Encodable) throws(StoreError) -> String {
    do {
      let encoder = JSONEncoder()
      encoder.outputFormatting = .sortedKeys
      return String(decoding: try encoder.encode(value), as: UTF8.self)
    } catch {
      throw StoreError(.io, "cannot encode \(type(of: value)): \(error)")
    }
  }

  public func clusterID() async throws(StoreError) -> String {
    let id = try await read { db in try String.fetchOne(db, sql: "SELECT id FROM cluster") }
    guard let id else { throw StoreError(.open, "the database at \(path) has no cluster id") }
    return id
  }

  public func appendEvents(_ events: [ClusterEvent]) async throws(StoreError) {
    try await write { db in try Self.insert(events, db) }
  }

  public func events(after: Int64, limit: Int) async throws(StoreError) -> [ClusterEvent] {
    try await read { db in
      try Row.fetchAll(
        db, sql: "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
        arguments: [after, max(0, limit)]
      ).map(Self.event(from:))
    }
  }

  public func recentEvents(limit: Int) async throws(StoreError) -> [ClusterEvent] {
    try await read { db in
      try Row.fetchAll(
        db, sql: "SELECT * FROM events ORDER BY seq DESC LIMIT ?", arguments: [max(0, limit)]
      ).map(Self.event(from:))
    }
  }

  private static func event(from row: Row) -> ClusterEvent {
    ClusterEvent(
      seq: row["seq"], at: Date(timeIntervalSince1970: row["at"]), actor: row["actor"],
      kind: row["kind"], subject: row["subject"], detail: row["detail"])
  }

  // MARK: plumbing

  static func insert(_ events: [ClusterEvent], _ db: Database) throws {
    for event in events {
      try run(
        db, "INSERT INTO events (at, actor, kind, subject, detail) VALUES (?, ?, ?, ?, ?)",
        [event.at.timeIntervalSince1970, event.actor, event.kind, event.subject, event.detail])
    }
  }

  private static func node(from row: Row) throws -> Node {
    let labels = try JSONDecoder().decode(
      [String: String].self, from: Data((row["labels"] as String).utf8))
    let usage: HostUsage? =
      if let cpu = row["cpu_used_millis"] as Int64? {
        HostUsage(
          cpuUsedMillis: cpu, memoryUsedBytes: row["memory_used_bytes"] ?? 0,
          memoryAvailableBytes: row["memory_available_bytes"] ?? 0)
      } else {
        nil
      }
    let spec = NodeSpec(
      id: NodeID(row["id"] as String), name: row["name"], address: row["address"],
      capacity: Resources(cpuMillis: row["cpu_millis"], memoryBytes: row["memory_bytes"]),
      ports: try PortRange(low: row["port_low"], high: row["port_high"]), labels: labels)
    return Node(
      spec: spec, state: NodeState(rawValue: row["state"]) ?? .down,
      generation: row["generation"],
      registeredAt: Date(timeIntervalSince1970: row["registered_at"]),
      lastHeartbeatAt: (row["last_heartbeat_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
      usage: usage)
  }

  private func encodeLabels(_ labels: [String: String]) throws(StoreError) -> Data {
    do {
      let encoder = JSONEncoder()
      encoder.outputFormatting = .sortedKeys
      return try encoder.encode(labels)
    } catch {
      throw StoreError(.io, "cannot encode labels: \(error)")
    }
  }

  func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T)
    async throws(StoreError) -> T
  {
    do {
      return try await pool.read(body)
    } catch {
      throw Self.wrap(error)
    }
  }

  func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T)
    async throws(StoreError) -> T
  {
    do {
      return try await group.write(body)
    } catch {
      throw Self.wrap(error)
    }
  }

  static func wrap(_ error: any Error) -> StoreError {
    if let error = error as? StoreError { return error }
    if let error = error as? DatabaseError {
      if error.resultCode == .SQLITE_CONSTRAINT {
        return StoreError(
          .conflict, "the change breaks a constraint: \(error.message ?? "\(error)")")
      }
      return StoreError(.io, "database error: \(error.message ?? "\(error)")")
    }
    return StoreError(.io, "\(error)")
  }
}
