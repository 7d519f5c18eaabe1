import Foundation
import GRDB
import SchedModel

/// Apps and their sets: the records the scheduler's lifecycle writes through.
extension SQLiteStore {
  public func apps() async throws(StoreError) -> [AppRecord] {
    try await read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM apps ORDER BY name").map { row in
        AppRecord(
          spec: try Self.json.decode(AppSpec.self, from: Data((row["spec"] as String).utf8)),
          live: (row["live_color"] as String?).flatMap(Color.init(rawValue:)),
          updatedAt: Date(timeIntervalSince1970: row["updated_at"]))
      }
    }
  }

  public func saveApp(_ app: AppRecord, events: [ClusterEvent]) async throws(StoreError) {
    let spec = try specJSON(app)
    try await write { db in
      try Self.upsert(app, spec: spec, db)
      try Self.insert(events, db)
    }
  }

  /// Hands the write to the writer's queue before returning; one narrow UPDATE, nothing to
  /// encode first. The transaction commits without waiting for the disk (`synchronous =
  /// NORMAL` for this one commit: the log is written, not yet synced), which is `committed`;
  /// the writer then syncs the log (what FULL would have done inside the commit) and
  /// `durable` follows. Every other write still syncs inside its commit.
  public func startSettingLive(
    _ name: String, to live: Color?, at: Date, events: [ClusterEvent]
  ) -> (committed: PendingWrite, durable: PendingWrite) {
    let committed = PendingWrite()
    let durable = PendingWrite()
    let log = path + "-wal"
    pool.asyncWriteWithoutTransaction { db in
      do {
        try db.execute(sql: "PRAGMA synchronous = NORMAL")
        let outcome = Result { () throws -> Void in
          try db.inTransaction {
            try db.execute(
              sql: "UPDATE apps SET live_color = ?, updated_at = ? WHERE name = ?",
              arguments: [live?.rawValue, at.timeIntervalSince1970, name])
            guard db.changesCount == 1 else {
              throw StoreError(.conflict, "no app named '\(name)'")
            }
            try Self.insert(events, db)
            return .commit
          }
        }
        try db.execute(sql: "PRAGMA synchronous = FULL")
        try outcome.get()
      } catch {
        committed.finish(.failure(Self.wrap(error)))
        durable.finish(.failure(Self.wrap(error)))
        return
      }
      committed.finish(.success(()))
      durable.finish(Self.syncData(of: log))
    }
    return (committed, durable)
  }

  /// fdatasync of the file at `path`: its written pages reach the disk.
  private static func syncData(of path: String) -> Result<Void, StoreError> {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      return .failure(
        StoreError(.io, "cannot open \(path) to sync it: \(String(cString: strerror(errno)))"))
    }
    defer { close(fd) }
    guard fdatasync(fd) == 0 else {
      return .failure(
        StoreError(.io, "cannot sync \(path) to disk: \(String(cString: strerror(errno)))"))
    }
    return .success(())
  }

  public func sets() async throws(StoreError) -> [SetRecord] {
    try await read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM sets ORDER BY app, color").map { row in
        SetRecord(
          app: row["app"], color: Color(rawValue: row["color"]) ?? .blue,
          deployment: row["deployment"], image: row["image"],
          createdAt: Date(timeIntervalSince1970: row["created_at"]))
      }
    }
  }

  public func commitSet(
    app: AppRecord, color: Color, set: SetRecord?, allocations: [Allocation],
    events: [ClusterEvent]
  ) async throws(StoreError) {
    if let set, set.app != app.name || set.color != color {
      throw StoreError(
        .conflict, "set \(set.app)/\(set.color) does not belong to \(app.name)/\(color)")
    }
    let spec = try specJSON(app)
    try await write { db in
      try Self.upsert(app, spec: spec, db)
      try Self.run(db, "DELETE FROM sets WHERE app = ? AND color = ?", [app.name, color.rawValue])
      if let set {
        try Self.run(
          db, "INSERT INTO sets (app, color, deployment, image, created_at) VALUES (?, ?, ?, ?, ?)",
          [
            set.app, set.color.rawValue, set.deployment, set.image,
            set.createdAt.timeIntervalSince1970,
          ])
      }
      try Self.replace(allocations, app: app.name, color: color, db)
      try Self.insert(events, db)
    }
  }
}
