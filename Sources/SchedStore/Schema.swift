import Foundation
import GRDB
import SchedModel

/// The database schema, as an ordered list of migrations. Never edit a shipped migration; add one.
enum Schema {
  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1: nodes, allocations, events") { db in
      try db.execute(
        sql: """
          CREATE TABLE nodes (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            address TEXT NOT NULL,
            cpu_millis INTEGER NOT NULL,
            memory_bytes INTEGER NOT NULL,
            port_low INTEGER NOT NULL,
            port_high INTEGER NOT NULL,
            labels TEXT NOT NULL,
            state TEXT NOT NULL,
            generation INTEGER NOT NULL,
            registered_at REAL NOT NULL,
            last_heartbeat_at REAL,
            cpu_used_millis INTEGER,
            memory_used_bytes INTEGER,
            memory_available_bytes INTEGER
          );
          CREATE TABLE allocations (
            app TEXT NOT NULL,
            color TEXT NOT NULL CHECK (color IN ('blue', 'green')),
            slot_index INTEGER NOT NULL,
            node_id TEXT NOT NULL REFERENCES nodes(id),
            host_port INTEGER NOT NULL,
            cpu_millis INTEGER NOT NULL,
            memory_bytes INTEGER NOT NULL,
            PRIMARY KEY (app, color, slot_index),
            UNIQUE (node_id, host_port)
          );
          CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT NOT NULL
          );
          CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
          CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
          """)
    }
    migrator.registerMigration("v2: apps and sets") { db in
      try db.execute(
        sql: """
          CREATE TABLE apps (
            name TEXT PRIMARY KEY NOT NULL,
            spec TEXT NOT NULL,
            live_color TEXT CHECK (live_color IN ('blue', 'green')),
            updated_at REAL NOT NULL
          );
          CREATE TABLE sets (
            app TEXT NOT NULL REFERENCES apps(name),
            color TEXT NOT NULL CHECK (color IN ('blue', 'green')),
            deployment TEXT NOT NULL,
            image TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (app, color)
          );
          """)
    }
    migrator.registerMigration("v3: verifications") { db in
      try db.execute(
        sql: """
          CREATE TABLE verifications (
            id TEXT PRIMARY KEY NOT NULL,
            app TEXT NOT NULL,
            digest TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('running', 'passed', 'failed')),
            started_at REAL NOT NULL,
            body TEXT NOT NULL
          );
          CREATE INDEX verifications_by_app ON verifications (app, digest, started_at);
          """)
    }
    migrator.registerMigration("v4: samples") { db in
      try db.execute(
        sql: """
          CREATE TABLE samples (
            series TEXT NOT NULL,
            resolution INTEGER NOT NULL,
            start INTEGER NOT NULL,
            total REAL NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (series, resolution, start)
          ) WITHOUT ROWID;
          CREATE INDEX samples_by_age ON samples (resolution, start);
          """)
    }
    migrator.registerMigration("v5: cluster identity") { db in
      // The cluster's id is made with its database: agents and routers remember it and refuse
      // a scheduler that answers with another (a typo in --db must not empty production).
      try db.execute(
        sql: """
          CREATE TABLE cluster (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            id TEXT NOT NULL,
            created_at REAL NOT NULL
          );
          """)
      try db.execute(
        sql: "INSERT INTO cluster (singleton, id, created_at) VALUES (1, ?, ?)",
        arguments: [ClusterID.random(), Date().timeIntervalSince1970])
    }
    migrator.registerMigration("v6: images") { db in
      // The image store's references; the blobs themselves are files named by digest.
      try db.execute(
        sql: """
          CREATE TABLE images (
            reference TEXT PRIMARY KEY NOT NULL,
            manifest TEXT NOT NULL,
            pushed_at REAL NOT NULL,
            body TEXT NOT NULL
          );
          """)
    }
    migrator.registerMigration("v7: registry credentials") { db in
      try db.execute(
        sql: """
          CREATE TABLE registry_credentials (
            registry TEXT PRIMARY KEY NOT NULL,
            username TEXT NOT NULL,
            password TEXT NOT NULL
          );
          """)
    }
    migrator.registerMigration("v8: builds") { db in
      try db.execute(
        sql: """
          CREATE TABLE builds (
            id TEXT PRIMARY KEY NOT NULL,
            app TEXT NOT NULL,
            number INTEGER NOT NULL,
            state TEXT NOT NULL,
            body TEXT NOT NULL
          );
          CREATE UNIQUE INDEX builds_by_app ON builds(app, number);
          """)
    }
    migrator.registerMigration("v9: secrets") { db in
      // Values the scheduler keeps for apps (webhook secrets); never listed by the API.
      try db.execute(
        sql: """
          CREATE TABLE secrets (
            scope TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (scope, name)
          );
          """)
    }
    migrator.registerMigration("v10: certificates") { db in
      // Every certificate the cluster CA issued to a node or router: the scheduler admits a
      // certificate only when its serial is here and not revoked.
      try db.execute(
        sql: """
          CREATE TABLE certificates (
            serial TEXT PRIMARY KEY NOT NULL,
            role TEXT NOT NULL,
            name TEXT NOT NULL,
            issued_at REAL NOT NULL,
            not_after REAL NOT NULL,
            revoked_at REAL
          );
          CREATE INDEX certificates_by_name ON certificates(role, name);
          """)
    }
    migrator.registerMigration("v11: api tokens") { db in
      // Operators' API tokens: the SHA-256 of each (the token is shown once, at creation).
      try db.execute(
        sql: """
          CREATE TABLE api_tokens (
            name TEXT PRIMARY KEY NOT NULL,
            role TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            created_by TEXT NOT NULL
          );
          """)
    }
    return migrator
  }
}
