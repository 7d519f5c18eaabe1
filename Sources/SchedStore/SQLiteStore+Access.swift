import Foundation
import GRDB
import SchedModel

/// Operators' API tokens (hashed), and the secrets of a scope.
extension SQLiteStore {
  public func secrets(scope: String) async throws(StoreError) -> [String: String] {
    try await read { db in
      var out: [String: String] = [:]
      for row in try Row.fetchAll(
        db, sql: "SELECT name, value FROM secrets WHERE scope = ?", arguments: [scope])
      {
        out[row["name"]] = row["value"]
      }
      return out
    }
  }

  public func apiTokens() async throws(StoreError) -> [APITokenRecord] {
    try await read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM api_tokens ORDER BY name").map { row in
        guard let role = OperatorRole(rawValue: row["role"]) else {
          throw StoreError(
            .io,
            "api token '\(row["name"] as String)' has an unknown role '\(row["role"] as String)'")
        }
        return APITokenRecord(
          name: row["name"], role: role, hash: row["hash"],
          createdAt: Date(timeIntervalSince1970: row["created_at"]), createdBy: row["created_by"])
      }
    }
  }

  public func addAPIToken(_ token: APITokenRecord, events: [ClusterEvent]) async throws(StoreError)
  {
    try await write { db in
      let taken =
        try Int.fetchOne(
          db, sql: "SELECT COUNT(*) FROM api_tokens WHERE name = ?", arguments: [token.name]) ?? 0
      guard taken == 0 else {
        throw StoreError(.conflict, "a token named '\(token.name)' exists")
      }
      try db.execute(
        sql: """
          INSERT INTO api_tokens (name, role, hash, created_at, created_by)
          VALUES (?, ?, ?, ?, ?)
          """,
        arguments: [
          token.name, token.role.rawValue, token.hash, token.createdAt.timeIntervalSince1970,
          token.createdBy,
        ])
      try Self.insert(events, db)
    }
  }

  public func removeAPIToken(named name: String, events: [ClusterEvent]) async throws(StoreError)
    -> Bool
  {
    try await write { db in
      try db.execute(sql: "DELETE FROM api_tokens WHERE name = ?", arguments: [name])
      guard db.changesCount == 1 else { return false }
      try Self.insert(events, db)
      return true
    }
  }
}
