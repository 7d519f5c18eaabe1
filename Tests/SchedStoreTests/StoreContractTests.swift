import Foundation
import SchedModel
import SchedStore
import SchedTestSupport
import Testing

/// The kinds of store every contract test runs over.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
  case memory
  case sqlite

  var testDescription: String { rawValue }

  func make() throws -> any StateStore {
    switch self {
    case .memory: MemoryStore()
    case .sqlite:
      try SQLiteStore(path: temporaryDirectory("store").appendingPathComponent("state.db").path)
    }
  }
}

@Suite("StateStore contract")
struct StoreContractTests {
  @Test(arguments: StoreKind.allCases)
  func savesAndReloadsNodes(kind: StoreKind) async throws {
    let store = try kind.make()
    let node = Fixtures.node("n2", generation: 3)
    try await store.saveNode(Fixtures.node("n1"), events: [])
    try await store.saveNode(node, events: [Fixtures.event("node.registered", subject: "n2")])
    let nodes = try await store.nodes()
    #expect(nodes.map(\.id) == ["n1", "n2"])
    #expect(nodes[1] == node)
  }

  @Test(arguments: StoreKind.allCases)
  func saveReplacesTheNode(kind: StoreKind) async throws {
    let store = try kind.make()
    var node = Fixtures.node("n1")
    try await store.saveNode(node, events: [])
    node.state = .down
    node.generation = 2
    node.spec.labels = ["zone": "rack"]
    try await store.saveNode(node, events: [])
    #expect(try await store.nodes() == [node])
  }

  @Test(arguments: StoreKind.allCases)
  func heartbeatsUpdateTheLastReport(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.saveNode(Fixtures.node("n1"), events: [])
    try await store.saveNode(Fixtures.node("n2"), events: [])
    let usage = HostUsage(cpuUsedMillis: 999, memoryUsedBytes: 5, memoryAvailableBytes: 6)
    let at = Date(timeIntervalSince1970: 1_800_000_100)
    // Many nodes' beats in one write; one for a node the store does not know is skipped.
    try await store.recordHeartbeats([
      HeartbeatRecord(node: "n1", usage: usage, at: at),
      HeartbeatRecord(node: "ghost", usage: usage, at: at),
      HeartbeatRecord(node: "n2", usage: usage, at: at.addingTimeInterval(1)),
    ])
    let nodes = try await store.nodes()
    #expect(nodes.map(\.usage) == [usage, usage])
    #expect(nodes.map(\.lastHeartbeatAt) == [at, at.addingTimeInterval(1)])
    #expect(nodes.map(\.id) == ["n1", "n2"])
  }

  @Test(arguments: StoreKind.allCases)
  func eventsAreNumberedInOrder(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.appendEvents([Fixtures.event("a"), Fixtures.event("b")])
    try await store.saveNode(Fixtures.node("n1"), events: [Fixtures.event("c")])
    let all = try await store.events(after: 0, limit: 10)
    #expect(all.map(\.kind) == ["a", "b", "c"])
    #expect(all.map(\.seq) == [1, 2, 3])
    #expect(try await store.events(after: 1, limit: 1).map(\.kind) == ["b"])
    #expect(all[0].detail == "detail of a")
    #expect(try await store.recentEvents(limit: 2).map(\.kind) == ["c", "b"])
    #expect(try await store.recentEvents(limit: 10).map(\.seq) == [3, 2, 1])
  }

  @Test(arguments: StoreKind.allCases)
  func allocationsReplaceOneSet(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.saveNode(Fixtures.node("n1"), events: [])
    let resources = Resources(cpuMillis: 250, memoryBytes: 128 << 20)
    func allocation(_ color: Color, _ index: Int, port: Int) -> Allocation {
      Allocation(
        slot: SlotID(app: "web", color: color, index: index), node: "n1", hostPort: port,
        resources: resources)
    }
    try await store.replaceAllocations(
      app: "web", color: .blue,
      with: [allocation(.blue, 0, port: 20000), allocation(.blue, 1, port: 20001)],
      events: [Fixtures.event("set.placed")])
    try await store.replaceAllocations(
      app: "web", color: .green, with: [allocation(.green, 0, port: 20002)], events: [])
    #expect(try await store.allocations().count == 3)
    try await store.replaceAllocations(app: "web", color: .blue, with: [], events: [])
    #expect(try await store.allocations() == [allocation(.green, 0, port: 20002)])
  }

  @Test(arguments: StoreKind.allCases)
  func allocationsRefuseSharedPortsAndUnknownNodes(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.saveNode(Fixtures.node("n1"), events: [])
    let resources = Resources(cpuMillis: 1, memoryBytes: 1)
    let taken = Allocation(
      slot: SlotID(app: "a", color: .blue, index: 0), node: "n1", hostPort: 20000,
      resources: resources)
    try await store.replaceAllocations(app: "a", color: .blue, with: [taken], events: [])
    let clash = Allocation(
      slot: SlotID(app: "b", color: .blue, index: 0), node: "n1", hostPort: 20000,
      resources: resources)
    await #expect(throws: StoreError.self) {
      try await store.replaceAllocations(
        app: "b", color: .blue, with: [clash], events: [Fixtures.event("x")])
    }
    let ghost = Allocation(
      slot: SlotID(app: "c", color: .blue, index: 0), node: "ghost", hostPort: 1,
      resources: resources)
    await #expect(throws: StoreError.self) {
      try await store.replaceAllocations(app: "c", color: .blue, with: [ghost], events: [])
    }
    // A refused change leaves nothing behind, not even its event.
    #expect(try await store.allocations() == [taken])
    #expect(try await store.events(after: 0, limit: 10).isEmpty)
  }

  /// SQLite commits writes that arrive together in one transaction (group commit), each in a
  /// savepoint: one that breaks a constraint must fail alone.
  @Test("many writes at once: each lands or fails on its own", arguments: StoreKind.allCases)
  func concurrentWritesLandOrFailAlone(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.saveNode(Fixtures.node("n1"), events: [])
    let resources = Resources(cpuMillis: 1, memoryBytes: 1)
    // The sets whose replacement fails hold a slot already: it must stay as it was.
    var kept: [Allocation] = []
    for index in stride(from: 3, to: 40, by: 10) {
      let old = Allocation(
        slot: SlotID(app: "a\(index)", color: .blue, index: 0), node: "n1",
        hostPort: 21000 + index, resources: resources)
      try await store.replaceAllocations(app: "a\(index)", color: .blue, with: [old], events: [])
      kept.append(old)
    }
    let failed = await withTaskGroup(of: Bool.self) { group in
      for index in 0..<40 {
        group.addTask {
          // Every tenth names a node that does not exist: refused by its foreign key.
          let node: NodeID = index % 10 == 3 ? "ghost" : "n1"
          let allocation = Allocation(
            slot: SlotID(app: "a\(index)", color: .blue, index: 0), node: node,
            hostPort: 20000 + index, resources: resources)
          do {
            try await store.replaceAllocations(
              app: "a\(index)", color: .blue, with: [allocation],
              events: [Fixtures.event("e\(index)")])
            return false
          } catch {
            return true
          }
        }
      }
      var failed = 0
      for await didFail in group where didFail { failed += 1 }
      return failed
    }
    #expect(failed == 4)
    let all = try await store.allocations()
    #expect(all.count == 40)
    #expect(kept.allSatisfy { all.contains($0) }, "a failed replacement removed the old slot")
    let events = try await store.events(after: 0, limit: 100).map(\.kind)
    #expect(events.count == 36 && !events.contains("e3"))
  }
}

@Suite("StateStore contract: apps and sets")
struct StoreAppContractTests {
  let at = Date(timeIntervalSince1970: 1_800_000_000)

  func app(live: Color? = nil) -> AppRecord {
    AppRecord(
      spec: AppSpec(
        name: "web", image: "web:1", slots: 2,
        resources: Resources(cpuMillis: 100, memoryBytes: 8 << 20),
        env: ["MODE": "prod"], health: HealthCheck(path: "/up"), constraints: ["zone": "home"],
        maxPerNode: 1, security: SecurityRequest(capAdd: ["NET_ADMIN"])),
      live: live, updatedAt: at)
  }

  func allocation(_ index: Int, port: Int) -> Allocation {
    Allocation(
      slot: SlotID(app: "web", color: .blue, index: index), node: "n1", hostPort: port,
      resources: Resources(cpuMillis: 100, memoryBytes: 8 << 20))
  }

  @Test(arguments: StoreKind.allCases)
  func appsRoundTrip(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.saveApp(app(), events: [Fixtures.event("app.applied")])
    #expect(try await store.apps() == [app()])
    try await store.saveApp(app(live: .green), events: [])
    #expect(try await store.apps().map(\.live) == [.green])
  }

  @Test(
    "an app's spec written again, changed and unchanged, with its set: read back as last written",
    arguments: StoreKind.allCases)
  func specWrittenAgain(kind: StoreKind) async throws {
    let store = try kind.make()
    var record = app()
    try await store.commitSet(app: record, color: .blue, set: nil, allocations: [], events: [])
    record.spec.image = "web:2"
    record.spec.env["MODE"] = "canary"
    try await store.commitSet(app: record, color: .blue, set: nil, allocations: [], events: [])
    #expect(try await store.apps() == [record])
    try await store.saveApp(record, events: [])
    #expect(try await store.apps() == [record])
    try await store.saveApp(app(), events: [])
    #expect(try await store.apps() == [app()])
  }

  @Test(arguments: StoreKind.allCases)
  func settingLiveChangesOnlyTheLiveColorAndLogs(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.saveApp(app(live: .blue), events: [])
    let later = at.addingTimeInterval(60)
    let (committed, durable) = store.startSettingLive(
      "web", to: .green, at: later, events: [Fixtures.event("app.switched")])
    try await committed.value()
    var expected = app(live: .green)
    expected.updatedAt = later
    #expect(try await store.apps() == [expected])
    #expect(try await store.events(after: 0, limit: 10).map(\.kind) == ["app.switched"])
    try await durable.value()
    // Waiting again gives the same outcome.
    try await committed.value()
  }

  @Test(arguments: StoreKind.allCases)
  func settingLiveOfAMissingAppFailsAndLogsNothing(kind: StoreKind) async throws {
    let store = try kind.make()
    let (committed, durable) = store.startSettingLive(
      "ghost", to: .green, at: at, events: [Fixtures.event("app.switched")])
    guard case .failure = await durable.result, case .failure(let error) = await committed.result
    else {
      Issue.record("setting the live color of a missing app succeeded")
      return
    }
    #expect(error.code == .conflict)
    #expect(error.message.contains("ghost"))
    #expect(try await store.events(after: 0, limit: 10).isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func commitSetPutsAndRemovesASetWithItsAllocations(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.saveNode(Fixtures.node("n1"), events: [])
    let set = SetRecord(app: "web", color: .blue, deployment: "d1", image: "web:1", createdAt: at)
    try await store.commitSet(
      app: app(live: .blue), color: .blue, set: set,
      allocations: [allocation(0, port: 20000), allocation(1, port: 20001)],
      events: [Fixtures.event("set.deployed")])
    #expect(try await store.sets() == [set])
    #expect(try await store.allocations().count == 2)
    #expect(try await store.apps().first?.live == .blue)
    try await store.commitSet(app: app(), color: .blue, set: nil, allocations: [], events: [])
    #expect(try await store.sets().isEmpty)
    #expect(try await store.allocations().isEmpty)
    #expect(try await store.events(after: 0, limit: 10).map(\.kind) == ["set.deployed"])
  }

  @Test(arguments: StoreKind.allCases)
  func aRefusedCommitChangesNothing(kind: StoreKind) async throws {
    let store = try kind.make()
    try await store.saveNode(Fixtures.node("n1"), events: [])
    let set = SetRecord(app: "web", color: .blue, deployment: "d1", image: "web:1", createdAt: at)
    await #expect(throws: StoreError.self) {
      try await store.commitSet(
        app: app(live: .blue), color: .blue, set: set,
        allocations: [allocation(0, port: 20000), allocation(1, port: 20000)],
        events: [Fixtures.event("set.deployed")])
    }
    #expect(try await store.apps().isEmpty)
    #expect(try await store.sets().isEmpty)
    #expect(try await store.allocations().isEmpty)
    #expect(try await store.events(after: 0, limit: 10).isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func certificatesAreRecordedAndRevokedByName(kind: StoreKind) async throws {
    let store = try kind.make()
    func issued(_ serial: String, _ name: String, role: String = "agent") -> IssuedCertificate {
      IssuedCertificate(
        serial: serial, role: role, name: name, issuedAt: at, notAfter: at.addingTimeInterval(60))
    }
    try await store.recordCertificate(issued("01", "n1"), events: [])
    try await store.recordCertificate(issued("02", "n1"), events: [])
    try await store.recordCertificate(issued("03", "n2"), events: [])
    try await store.recordCertificate(issued("04", "n1", role: "router"), events: [])
    #expect(try await store.certificate(serial: "01") == issued("01", "n1"))
    #expect(try await store.certificate(serial: "ff") == nil)
    let later = at.addingTimeInterval(5)
    let revoked = try await store.revokeCertificates(
      role: "agent", name: "n1", at: later, events: [Fixtures.event("node.removed")])
    #expect(revoked == 2)
    #expect(try await store.certificate(serial: "02")?.revokedAt == later)
    #expect(try await store.certificate(serial: "03")?.revokedAt == nil)
    #expect(try await store.certificate(serial: "04")?.revokedAt == nil)
    #expect(
      try await store.revokeCertificates(role: "agent", name: "n1", at: later, events: []) == 0)
    #expect(try await store.events(after: 0, limit: 10).map(\.kind) == ["node.removed"])
  }

  @Test(arguments: StoreKind.allCases)
  func apiTokensAreUniqueByNameAndHash(kind: StoreKind) async throws {
    let store = try kind.make()
    let ci = APITokenRecord(name: "ci", role: .deploy, hash: "aa", createdAt: at, createdBy: "me")
    try await store.addAPIToken(ci, events: [Fixtures.event("token.created")])
    #expect(try await store.apiTokens() == [ci])
    var sameName = ci
    sameName.hash = "bb"
    await #expect(throws: StoreError.self) { try await store.addAPIToken(sameName, events: []) }
    var sameHash = ci
    sameHash.name = "other"
    await #expect(throws: StoreError.self) { try await store.addAPIToken(sameHash, events: []) }
    #expect(try await store.removeAPIToken(named: "nobody", events: [Fixtures.event("x")]) == false)
    #expect(try await store.removeAPIToken(named: "ci", events: [Fixtures.event("token.revoked")]))
    #expect(try await store.apiTokens().isEmpty)
    #expect(
      try await store.events(after: 0, limit: 10).map(\.kind) == ["token.created", "token.revoked"])
  }
}

@Suite("SQLite store")
struct SQLiteStoreTests {
  @Test func walAndFullSync() async throws {
    let store = try SQLiteStore(path: temporaryDirectory("wal").appendingPathComponent("s.db").path)
    let pragmas = try await store.pragmas()
    #expect(pragmas.journalMode == "wal")
    #expect(pragmas.synchronous == 2)  // FULL
    #expect(pragmas.autoCheckpoint == 0)  // no checkpoint inside a commit
  }

  /// Commits land in the write-ahead log only; the store's own checkpointer copies them into
  /// the database file. A copy of that file alone (no log) shows what was checkpointed.
  @Test func theCheckpointerMovesCommitsIntoTheDatabaseFile() async throws {
    let directory = temporaryDirectory("checkpoint")
    let path = directory.appendingPathComponent("s.db").path
    let store = try SQLiteStore(path: path, checkpointEvery: .seconds(3600))
    try await store.saveNode(Fixtures.node("n1"), events: [Fixtures.event("node.registered")])
    func nodesInFileAlone() async throws -> String {
      let copy = directory.appendingPathComponent("copy-\(UUID().uuidString).db").path
      try FileManager.default.copyItem(atPath: path, toPath: copy)
      return try await python(
        """
        import sqlite3, sys
        try:
            print([r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT id FROM nodes")])
        except sqlite3.DatabaseError as e:
            print(e)
        """, copy)
    }
    // Not even the schema is in the file yet: the migrations are in the log too.
    #expect(try await nodesInFileAlone() == "no such table: nodes\n")
    let result = try await store.checkpoint()
    #expect(result.logFrames > 0)
    #expect(result.checkpointed == result.logFrames)
    #expect(try await nodesInFileAlone() == "['n1']\n")

    // The same, done by the store's own timer.
    let timed = try SQLiteStore(path: path, checkpointEvery: .milliseconds(50))
    try await timed.saveNode(Fixtures.node("n2"), events: [])
    var seen = ""
    for _ in 0..<100 {
      seen = try await nodesInFileAlone()
      if seen == "['n1', 'n2']\n" { break }
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(seen == "['n1', 'n2']\n")
  }

  /// A switch's record commits without waiting for the disk, then the writer syncs the log;
  /// every later commit syncs inside itself again.
  @Test func aSwitchRecordCommitsThenSyncsAndTheWriterStaysFull() async throws {
    let directory = temporaryDirectory("live")
    let path = directory.appendingPathComponent("s.db").path
    let store = try SQLiteStore(path: path, checkpointEvery: .seconds(3600))
    try await store.saveApp(StoreAppContractTests().app(live: .blue), events: [])
    let (committed, durable) = store.startSettingLive(
      "web", to: .green, at: Date(), events: [Fixtures.event("app.switched")])
    try await committed.value()
    #expect(try await store.apps().map(\.live) == [.green])
    try await durable.value()
    #expect(try await store.pragmas().synchronous == 2)
    // The record is in the log file: a copy of the database with its log reads it back.
    let copy = directory.appendingPathComponent("copy")
    try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
    for suffix in ["", "-wal"] {
      try FileManager.default.copyItem(
        atPath: path + suffix, toPath: copy.appendingPathComponent("s.db").path + suffix)
    }
    let live = try await python(
      """
      import sqlite3, sys
      print(sqlite3.connect(sys.argv[1]).execute("SELECT live_color FROM apps").fetchall())
      """, copy.appendingPathComponent("s.db").path)
    #expect(live == "[('green',)]\n")
  }

  @Test("the database and its log are readable by their owner alone (0600)")
  func ownerOnly() async throws {
    let path = NSTemporaryDirectory() + "mode-\(UInt64.random(in: 0...UInt64.max)).db"
    defer {
      for file in [path, path + "-wal", path + "-shm"] {
        try? FileManager.default.removeItem(atPath: file)
      }
    }
    let store = try SQLiteStore(path: path)
    try await store.saveNode(Fixtures.node("n1"), events: [])
    for file in [path, path + "-wal", path + "-shm"] {
      let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions]
      #expect((mode as? NSNumber)?.intValue == 0o600, "\(file)")
    }
  }

  @Test func survivesReopening() async throws {
    let path = temporaryDirectory("reopen").appendingPathComponent("s.db").path
    do {
      let store = try SQLiteStore(path: path)
      try await store.saveNode(Fixtures.node("n1"), events: [Fixtures.event("node.registered")])
    }
    let again = try SQLiteStore(path: path)
    #expect(try await again.nodes().map(\.id) == ["n1"])
    #expect(try await again.events(after: 0, limit: 5).count == 1)
  }

  @Test func theEventLogIsAppendOnly() async throws {
    let path = temporaryDirectory("append").appendingPathComponent("s.db").path
    let store = try SQLiteStore(path: path)
    try await store.appendEvents([Fixtures.event("a")])
    // Go around the store, as a careless script would.
    let output = try await python(
      """
      import sqlite3, sys
      db = sqlite3.connect(sys.argv[1])
      try:
          db.execute("DELETE FROM events"); db.commit(); print("deleted")
      except sqlite3.DatabaseError as e:
          print("refused:", e)
      """, path)
    #expect(output.contains("refused: the event log is append-only"))
    #expect(try await store.events(after: 0, limit: 5).count == 1)
  }

  /// Runs a Python script with `arguments`; returns what it printed.
  private func python(_ script: String, _ arguments: String...) async throws -> String {
    try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script] + arguments)
      .output
  }

  @Test func unopenableDatabaseSaysWhy() {
    #expect(throws: StoreError.self) { try SQLiteStore(path: "/proc/turnout/state.db") }
  }
}
