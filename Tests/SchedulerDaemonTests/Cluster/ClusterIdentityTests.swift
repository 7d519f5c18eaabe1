import AgentCore
import Foundation
import Logging
import OperatorAPI
import RouteTable
import SchedModel
import SchedStore
import SchedTestSupport
import SchedWire
import Testing
import WireTransport

@testable import RouterDaemon

/// Issue 14.1: a scheduler with an empty or wrong database must not empty production.
@Suite("Cluster identity")
struct ClusterIdentityTests {
  @Test(
    "the pin takes the first cluster, refuses another, follows a new one only when told",
    arguments: [
      // known, joinNew, offered, accepted, saved, known after
      (nil, false, "c-a", true, true, "c-a"),
      ("c-a", false, "c-a", true, false, "c-a"),
      ("c-a", false, "c-b", false, false, "c-a"),
      ("c-a", true, "c-b", true, true, "c-b"),
      ("c-a", false, nil, false, false, "c-a"),
      (nil, false, nil, true, false, nil),
    ] as [(String?, Bool, String?, Bool, Bool, String?)])
  func pinRule(
    known: String?, joinNew: Bool, offered: String?, accepted: Bool, saved: Bool, after: String?
  ) {
    var pin = ClusterPin(known: known, joinNew: joinNew)
    let decision = pin.admit(offered, who: "agent")
    switch decision {
    case .accept(let save):
      #expect(accepted)
      #expect(save == saved)
    case .refuse(let reason):
      #expect(!accepted)
      #expect(reason.contains("--join-new-cluster"))
    }
    #expect(pin.known == after)
    // Asked again with the same id, the answer is the same and nothing more is saved.
    if accepted { #expect(pin.admit(offered, who: "agent") == .accept(save: false)) }
    // --join-new-cluster is spent by the first welcome taken.
    if accepted, joinNew { #expect(!pin.joinNew) }
  }

  @Test("a router refuses a table that leaves out an app it serves, unless it was deleted")
  func tableDroppingAppsRefused() throws {
    let web = AppRoutes(app: "web")
    let api = AppRoutes(app: "api")
    var router = RouterTables(current: RouteTable(epoch: 4, apps: [web, api]))
    #expect(throws: RouteError.self) { try router.install(RouteTable(epoch: 9, apps: [])) }
    #expect(throws: RouteError.self) { try router.prepare(RouteTable(epoch: 9, apps: [web])) }
    #expect(router.current.epoch == 4)
    #expect(try router.install(RouteTable(epoch: 9, apps: [web]), removed: ["api"]))
    #expect(router.current.apps.map(\.app) == ["web"])
    // New apps are always welcome.
    #expect(try router.install(RouteTable(epoch: 10, apps: [web, AppRoutes(app: "new")])))
  }

  @Test("the state file keeps the cluster id beside the table; older files still load")
  func stateFileKeepsCluster() throws {
    let dir = temporaryDirectory("cluster-id").path
    let path = dir + "/routes.json"
    let table = RouteTable(epoch: 3, apps: [AppRoutes(app: "web")])
    let file = TableFile(path: path)
    try file.pin("c-one", table: table)
    let reloaded = try #require(try TableFile(path: path).load())
    #expect(reloaded.cluster == "c-one")
    #expect(reloaded.table == table)
    // A file written before cluster ids: the bare table.
    try JSONEncoder().encode(table).write(to: URL(fileURLWithPath: path))
    let old = try #require(try TableFile(path: path).load())
    #expect(old.cluster == nil)
    #expect(old.table == table)
  }

  @Test("the agent's cluster file: taken once, refused after, kept across restarts")
  func agentClusterFile() throws {
    let dir = temporaryDirectory("agent-state").path
    let path = dir + "/agent/cluster-id"
    let first = try PinnedCluster.file(path, joinNew: false, who: "agent")
    #expect(first.admit("c-a") == nil)
    let restarted = try PinnedCluster.file(path, joinNew: false, who: "agent")
    #expect(restarted.known == "c-a")
    #expect(restarted.admit("c-b")?.contains("belongs to cluster c-a") == true)
    let told = try PinnedCluster.file(path, joinNew: true, who: "agent")
    #expect(told.admit("c-b") == nil)
    #expect(try PinnedCluster.file(path, joinNew: false, who: "agent").known == "c-b")
  }

  static func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
  }

  @Test(
    "a scheduler restarted on another database: routers keep serving, agents keep containers",
    .timeLimit(.minutes(1)))
  func wrongDatabaseChangesNothing() async throws {
    let dir = temporaryDirectory("wrong-db").path
    let runtime = FakeRuntime(images: ["web:1", "web:2"])
    let first = try await InProcessScheduler.start(heartbeat: .milliseconds(200), missedBeats: 12)
    let port = first.clusterPort
    let agent = first.startRuntimeAgent("n1", runtime: runtime)
    let router = try await Router.start(
      config: RouterConfig(
        name: "edge-1", schedulerHost: "127.0.0.1", schedulerPort: port,
        token: InProcessScheduler.routerToken, listenPort: 0, stateFile: dir + "/routes.json",
        threads: 1),
      logger: Self.quietLogger("test.router"))
    let routerTask = Task { try await router.run() }
    var stopped = false
    defer {
      agent.cancel()
      routerTask.cancel()
      if !stopped { Task { await first.stop() } }
    }
    #expect(await eventually { (try? await first.api.nodes().count) == 1 })
    _ = try await first.api.apply(Fixtures.quickApp())
    _ = try await first.api.deploy("web", image: nil)
    #expect(await eventually { router.table.app(named: "web")?.live?.upstreams.count == 2 })
    let served = router.table
    let containers = await runtime.list(labels: [:]).count
    #expect(containers == 2)

    // The same port, a database with nothing in it: another cluster.
    await first.stop()
    stopped = true
    let second = try await InProcessScheduler.start(
      heartbeat: .milliseconds(200), missedBeats: 12, clusterPort: port)
    defer { Task { await second.stop() } }
    // Time for several reconnects (backoff caps at 300 ms here) and reconcile passes.
    try await Task.sleep(for: .seconds(2))
    #expect(
      router.table == served, "the router changed its table for a scheduler of another cluster")
    #expect(await runtime.list(labels: [:]).count == containers)
    #expect(try await second.api.nodes().isEmpty, "the agent registered with another cluster")

    // Told to follow the new cluster, the router joins it, and still refuses the table that
    // would drop the app it serves (the scheduler never deleted it).
    routerTask.cancel()
    _ = await routerTask.result
    let rejoined = try await Router.start(
      config: RouterConfig(
        name: "edge-1", schedulerHost: "127.0.0.1", schedulerPort: port,
        token: InProcessScheduler.routerToken, listenPort: 0, stateFile: dir + "/routes.json",
        threads: 1, joinNewCluster: true),
      logger: Self.quietLogger("test.router"))
    let rejoinedTask = Task { try await rejoined.run() }
    defer { rejoinedTask.cancel() }
    #expect(await eventually { (try? await second.api.routers().routers.count) == 1 })
    try await Task.sleep(for: .milliseconds(500))
    #expect(rejoined.table == served)
    #expect(rejoined.cluster.known == second.scheduler.clusterID)
  }
}
