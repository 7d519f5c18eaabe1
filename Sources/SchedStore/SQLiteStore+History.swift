import Foundation
import GRDB
import SchedModel

/// The store's history: metric samples with their retention, and verifications.
extension SQLiteStore {
  public func recordSamples(_ samples: [Sample], retention: Retention, now: Int64)
    async throws(StoreError)
  {
    try await write { db in
      let upsert = try db.cachedStatement(
        sql: """
          INSERT INTO samples (series, resolution, start, total, count) VALUES (?, ?, ?, ?, 1)
          ON CONFLICT(series, resolution, start)
          DO UPDATE SET total = total + excluded.total, count = count + 1
          """)
      for tier in retention.tiers {
        for sample in samples {
          try upsert.execute(arguments: [
            sample.series, tier.resolution, Retention.bucket(sample.at, tier), sample.value,
          ])
        }
        try db.execute(
          sql: "DELETE FROM samples WHERE resolution = ? AND start < ?",
          arguments: [tier.resolution, Retention.cutoff(now: now, tier)])
      }
    }
  }

  public func samplePoints(series: [String], resolution: Int64, since: Int64)
    async throws(StoreError) -> [SamplePoint]
  {
    guard !series.isEmpty else { return [] }
    return try await read { db in
      let marks = Array(repeating: "?", count: series.count).joined(separator: ", ")
      let arguments = StatementArguments(series) + [resolution, since]
      return try Row.fetchAll(
        db,
        sql: """
          SELECT series, resolution, start, total, count FROM samples
          WHERE series IN (\(marks)) AND resolution = ? AND start >= ? ORDER BY start
          """, arguments: arguments
      ).map { row in
        let count: Int64 = row["count"]
        let total: Double = row["total"]
        return SamplePoint(
          series: row["series"], resolution: row["resolution"], start: row["start"],
          mean: count > 0 ? total / Double(count) : 0, count: count)
      }
    }
  }

  /// Rows in the samples table, for retention tests.
  public func sampleRowCount() async throws(StoreError) -> Int {
    try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM samples") ?? 0 }
  }

  public func saveVerification(_ verification: Verification, events: [ClusterEvent])
    async throws(StoreError)
  {
    let body = try encodeJSON(verification)
    try await write { db in
      try db.execute(
        sql: """
          INSERT INTO verifications (id, app, digest, state, started_at, body)
          VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET state = excluded.state, body = excluded.body
          """,
        arguments: [
          verification.id, verification.app, verification.digest, verification.state.rawValue,
          verification.startedAt.timeIntervalSince1970, body,
        ])
      try Self.insert(events, db)
    }
  }

  public func verifications(app: String, digest: String?, limit: Int) async throws(StoreError)
    -> [Verification]
  {
    try await read { db in
      let rows =
        if let digest {
          try Row.fetchAll(
            db,
            sql:
              "SELECT body FROM verifications WHERE app = ? AND digest = ? ORDER BY started_at DESC LIMIT ?",
            arguments: [app, digest, limit])
        } else {
          try Row.fetchAll(
            db,
            sql: "SELECT body FROM verifications WHERE app = ? ORDER BY started_at DESC LIMIT ?",
            arguments: [app, limit])
        }
      return try rows.map { row in
        try Self.json.decode(Verification.self, from: Data((row["body"] as String).utf8))
      }
    }
  }

  public func images() async throws(StoreError) -> [StoredImage] {
    try await read { db in
      try Row.fetchAll(db, sql: "SELECT body FROM images ORDER BY pushed_at, reference").map {
        row in try Self.json.decode(StoredImage.self, from: Data((row["body"] as String).utf8))
      }
    }
  }

  public func saveImage(_ image: StoredImage, events: [ClusterEvent]) async throws(StoreError) {
    let body = try encodeJSON(image)
    try await write { db in
      try db.execute(
        sql: """
          INSERT INTO images (reference, manifest, pushed_at, body) VALUES (?, ?, ?, ?)
          ON CONFLICT(reference) DO UPDATE SET manifest = excluded.manifest,
            pushed_at = excluded.pushed_at, body = excluded.body
          """,
        arguments: [
          image.reference, image.manifest.rawValue, image.pushedAt.timeIntervalSince1970, body,
        ])
      try Self.insert(events, db)
    }
  }

  public func deleteImages(_ references: [String], events: [ClusterEvent])
    async throws(StoreError)
  {
    try await write { db in
      for reference in references {
        try db.execute(sql: "DELETE FROM images WHERE reference = ?", arguments: [reference])
      }
      try Self.insert(events, db)
    }
  }

  public func registryCredentials() async throws(StoreError) -> [RegistryCredential] {
    try await read { db in
      try Row.fetchAll(
        db, sql: "SELECT registry, username, password FROM registry_credentials ORDER BY registry"
      ).map {
        RegistryCredential(
          registry: $0["registry"], username: $0["username"], password: $0["password"])
      }
    }
  }

  public func setRegistryCredential(
    _ credential: RegistryCredential?, registry: String, events: [ClusterEvent]
  ) async throws(StoreError) {
    try await write { db in
      if let credential {
        try db.execute(
          sql: """
            INSERT INTO registry_credentials (registry, username, password) VALUES (?, ?, ?)
            ON CONFLICT(registry) DO UPDATE SET username = excluded.username,
              password = excluded.password
            """, arguments: [registry, credential.username, credential.password])
      } else {
        try db.execute(
          sql: "DELETE FROM registry_credentials WHERE registry = ?", arguments: [registry])
      }
      try Self.insert(events, db)
    }
  }

  public func saveBuild(_ build: BuildRecord, events: [ClusterEvent]) async throws(StoreError) {
    let body = try encodeJSON(build)
    try await write { db in
      try db.execute(
        sql: """
          INSERT INTO builds (id, app, number, state, body) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET state = excluded.state, body = excluded.body
          """,
        arguments: [build.id, build.app, build.number, build.state.rawValue, body])
      try Self.insert(events, db)
    }
  }

  public func builds(app: String?, limit: Int) async throws(StoreError) -> [BuildRecord] {
    try await read { db in
      let rows =
        if let app {
          try Row.fetchAll(
            db, sql: "SELECT body FROM builds WHERE app = ? ORDER BY number DESC LIMIT ?",
            arguments: [app, limit])
        } else {
          try Row.fetchAll(
            db, sql: "SELECT body FROM builds ORDER BY rowid DESC LIMIT ?", arguments: [limit])
        }
      return try rows.map { row in
        try Self.json.decode(BuildRecord.self, from: Data((row["body"] as String).utf8))
      }
    }
  }

  public func secret(scope: String, name: String) async throws(StoreError) -> String? {
    try await read { db in
      try String.fetchOne(
        db, sql: "SELECT value FROM secrets WHERE scope = ? AND name = ?", arguments: [scope, name])
    }
  }

  public func setSecret(_ value: String?, scope: String, name: String, events: [ClusterEvent])
    async throws(StoreError)
  {
    try await write { db in
      if let value {
        try db.execute(
          sql: """
            INSERT INTO secrets (scope, name, value) VALUES (?, ?, ?)
            ON CONFLICT(scope, name) DO UPDATE SET value = excluded.value
            """, arguments: [scope, name, value])
      } else {
        try db.execute(
          sql: "DELETE FROM secrets WHERE scope = ? AND name = ?", arguments: [scope, name])
      }
      try Self.insert(events, db)
    }
  }

  public func removeNode(_ id: NodeID, at: Date, events: [ClusterEvent]) async throws(StoreError)
    -> Int
  {
    try await write { db in
      let held =
        try Int.fetchOne(
          db, sql: "SELECT COUNT(*) FROM allocations WHERE node_id = ?", arguments: [id.rawValue])
        ?? 0
      guard held == 0 else {
        throw StoreError(.conflict, "node '\(id)' still holds \(held) slot(s)")
      }
      try db.execute(sql: "DELETE FROM nodes WHERE id = ?", arguments: [id.rawValue])
      guard db.changesCount == 1 else { throw StoreError(.conflict, "no node '\(id)'") }
      let revoked = try Self.revoke(role: "agent", name: id.rawValue, at: at, db)
      try Self.insert(events, db)
      return revoked
    }
  }

  public func recordCertificate(_ certificate: IssuedCertificate, events: [ClusterEvent])
    async throws(StoreError)
  {
    try await write { db in
      try db.execute(
        sql: """
          INSERT INTO certificates (serial, role, name, issued_at, not_after, revoked_at)
          VALUES (?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          certificate.serial, certificate.role, certificate.name,
          certificate.issuedAt.timeIntervalSince1970, certificate.notAfter.timeIntervalSince1970,
          certificate.revokedAt?.timeIntervalSince1970,
        ])
      try Self.insert(events, db)
    }
  }

  public func certificate(serial: String) async throws(StoreError) -> IssuedCertificate? {
    try await read { db in
      try Row.fetchOne(db, sql: "SELECT * FROM certificates WHERE serial = ?", arguments: [serial])
        .map { row in
          IssuedCertificate(
            serial: row["serial"], role: row["role"], name: row["name"],
            issuedAt: Date(timeIntervalSince1970: row["issued_at"]),
            notAfter: Date(timeIntervalSince1970: row["not_after"]),
            revokedAt: (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
        }
    }
  }

  public func revokeCertificates(role: String, name: String, at: Date, events: [ClusterEvent])
    async throws(StoreError) -> Int
  {
    try await write { db in
      let count = try Self.revoke(role: role, name: name, at: at, db)
      try Self.insert(events, db)
      return count
    }
  }

  /// Marks revoked, in `db`'s transaction, every certificate of `name` in `role` not yet
  /// revoked; returns how many.
  static func revoke(role: String, name: String, at: Date, _ db: Database) throws -> Int {
    try db.execute(
      sql: """
        UPDATE certificates SET revoked_at = ?
        WHERE role = ? AND name = ? AND revoked_at IS NULL
        """, arguments: [at.timeIntervalSince1970, role, name])
    return db.changesCount
  }
}
