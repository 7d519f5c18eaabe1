import AgentCore
import Foundation
import Lifecycle
import Logging
import OperatorAPI
import RouteTable
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import SchedWire
import SchedulerDaemon
import Testing

@testable import RouterDaemon

/// The switch through the real scheduler, agents on fake runtimes, and in-process routers.
@Suite("Switch in-process", .timeLimit(.minutes(1)))
struct SwitchTests {
  struct Cluster {
    let scheduler: InProcessScheduler
    let prober: ScriptedProber
    let agents: [Task<Void, any Error>]
    var routers: [(router: Router, task: Task<Void, any Error>)] = []

    static func start(
      switchTimeout: Duration = .seconds(5), store: (any StateStore)? = nil,
      timers: any LifecycleTimers = SleepingTimers()
    ) async throws -> Cluster {
      let scheduler = try await InProcessScheduler.start(
        heartbeat: .milliseconds(250), store: store, switchTimeout: switchTimeout,
        missedBeats: 12, timers: timers)
      let prober = ScriptedProber()
      let agents = ["n1", "n2"].map {
        scheduler.startRuntimeAgent(
          $0, runtime: FakeRuntime(images: ["web:1", "web:2"]), prober: prober)
      }
      #expect(await eventually { (try? await scheduler.api.nodes().count) == 2 })
      return Cluster(scheduler: scheduler, prober: prober, agents: agents)
    }

    mutating func addRouter(_ name: String) async throws -> Router {
      var logger = Logger(label: "test.router")
      logger.logLevel = .warning
      let router = try await Router.start(
        config: RouterConfig(
          name: name, schedulerHost: "127.0.0.1", schedulerPort: scheduler.clusterPort,
          token: InProcessScheduler.routerToken, listenPort: 0, threads: 1),
        logger: logger)
      routers.append((router, Task { try await router.run() }))
      return router
    }

    var api: APIClient { scheduler.api }

    func ready(_ color: Color) async -> Bool {
      (try? await api.status("web"))?.sets.first { $0.color == color }?.state == .ready
    }

    /// Blue live, green deployed and ready.
    func deployBoth(keepWarmMillis: Int64? = nil) async throws {
      _ = try await api.apply(
        AppSpec(
          name: "web", image: "web:1", slots: 2,
          resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20),
          health: HealthCheck(intervalMillis: 100, timeoutMillis: 100), hosts: ["web.test"],
          keepWarmMillis: keepWarmMillis))
      _ = try await api.deploy("web", image: nil)
      #expect(await eventually { await ready(.blue) })
      _ = try await api.deploy("web", image: "web:2")
      #expect(await eventually { await ready(.green) })
    }

    func stop() async {
      for (_, task) in routers { task.cancel() }
      for (_, task) in routers { _ = await task.result }
      for agent in agents { agent.cancel() }
      await scheduler.stop()
    }
  }

  /// A cluster with one router, blue live and green ready, the router serving blue.
  static func deployedWithRouter(store: (any StateStore)? = nil) async throws -> (Cluster, Router) {
    var cluster = try await Cluster.start(store: store)
    let router = try await cluster.addRouter("edge-1")
    try await cluster.deployBoth()
    #expect(await eventually { Self.live(router) == (.blue, 2) })
    return (cluster, router)
  }

  static func live(_ router: Router) -> (Color?, Int) {
    let routes = router.table.app(named: "web")
    return (routes?.live?.color, routes?.live?.upstreams.count ?? 0)
  }

  @Test("an unverified candidate is refused with the reason; --force switches and is logged")
  func verificationGate() async throws {
    var cluster = try await Cluster.start()
    let router = try await cluster.addRouter("edge-1")
    try await cluster.deployBoth()
    let api = cluster.api
    #expect(await eventually { router.table.app(named: "web")?.candidate?.upstreams.count == 2 })
    await #expect {
      _ = try await api.switchLive("web")
    } throws: { error in
      let message = (error as? ClientError)?.message ?? ""
      return (error as? ClientError)?.code == .refused
        && message.contains("has no passing verification")
        && message.contains("has not been verified") && message.contains("schedctl verify web")
    }
    #expect(Self.live(router).0 == .blue)
    // Rollbacks are not gated: the old set served production before.
    let forced = try await api.switchLive("web", force: true)
    #expect(forced.to == .green)
    let events = try await api.events()
    #expect(
      events.contains {
        $0.kind == "app.switch_forced" && $0.subject == "web"
          && $0.detail.contains("without a passing verification")
      })
    // Blue served before green: a switch to it (never verified) points to the rollback.
    await #expect {
      _ = try await api.switchLive("web")
    } throws: { error in
      let message = (error as? ClientError)?.message ?? ""
      return message.contains("the set that was live before green")
        && message.contains("schedctl rollback web") && !message.contains("--force")
    }
    #expect(try await api.rollback("web").to == .blue)
    await cluster.stop()
  }

  @Test("switch, rollback and retire move every router to the same epoch and log who did it")
  func switchRollbackRetire() async throws {
    var cluster = try await Cluster.start()
    let r1 = try await cluster.addRouter("edge-1")
    let r2 = try await cluster.addRouter("edge-2")
    try await cluster.deployBoth()
    let api = cluster.api
    #expect(await eventually { Self.live(r1) == (.blue, 2) && Self.live(r2) == (.blue, 2) })
    #expect(await eventually { r1.table.app(named: "web")?.candidate?.upstreams.count == 2 })

    let sent = Date()
    let switched = try await api.switchLive("web", force: true)
    let answered = Date()
    #expect(switched.from == .blue && switched.to == .green)
    // When the scheduler took the command, for clients that time their switches.
    let accepted = try #require(switched.acceptedAt)
    #expect(sent <= accepted && accepted <= answered)
    #expect(switched.routers == ["edge-1", "edge-2"])
    #expect(r1.epoch == switched.epoch && r2.epoch == switched.epoch)
    #expect(Self.live(r1) == (.green, 2) && Self.live(r2) == (.green, 2))
    #expect(try await api.status("web").app.live == .green)

    let back = try await api.rollback("web")
    #expect(back.to == .blue && back.epoch > switched.epoch)
    #expect(Self.live(r1).0 == .blue && Self.live(r2).0 == .blue)
    #expect(r1.epoch == r2.epoch)

    // Blue is live again, so green is now the candidate: a rollback has nowhere to go.
    await #expect(throws: ClientError.self) { _ = try await api.rollback("web") }
    let again = try await api.switchLive("web", force: true)

    // The commit's acks move the routers' view at once, before their next reports.
    let routers = try await api.routers()
    #expect(routers.epoch == again.epoch)
    #expect(
      routers.routers.allSatisfy { $0.connected && $0.inSync && $0.epoch == again.epoch },
      "\(routers.routers)")

    let retired = try await api.retire("web", drainTimeoutMillis: 1000)
    #expect(retired.color == .blue)
    #expect(retired.inFlightLeft.isEmpty)
    #expect(r1.table.app(named: "web")?.candidate == nil)
    #expect(await eventually { (try? await api.status("web").sets.map(\.color)) == [.green] })

    let events = try await api.events(limit: 200)
    let kinds = events.map(\.kind)
    #expect(kinds.filter { $0 == "app.switched" }.count == 2)
    #expect(kinds.contains("app.rolled_back"))
    #expect(kinds.contains("app.retired"))
    let first = try #require(events.first { $0.kind == "app.switched" })
    #expect(first.actor.hasPrefix("bootstrap ("))  // the token's name, then what schedctl says of its user
    #expect(first.detail.contains("from blue"))
    #expect(first.detail.contains("to green"))
    #expect(first.detail.contains("epoch \(switched.epoch)"))
    await cluster.stop()
  }

  @Test("a switch to a set with an unhealthy slot is refused and the live set keeps serving")
  func unhealthyCandidateRefused() async throws {
    let (cluster, router) = try await Self.deployedWithRouter()
    let api = cluster.api
    let green = try #require(try await api.status("web").sets.first { $0.color == .green })
    cluster.prober.set(port: green.slots[1].hostPort, failure: "HTTP 500")
    #expect(
      await eventually {
        (try? await api.status("web").sets.first { $0.color == .green }?.state) == .degraded
      })
    let epoch = router.epoch
    await #expect {
      _ = try await api.switchLive("web", force: true)
    } throws: { error in
      let message = (error as? ClientError)?.message ?? ""
      return (error as? ClientError)?.code == .refused && message.contains("not ready")
        && message.contains("slot 1") && message.contains("blue stays live")
    }
    #expect(Self.live(router).0 == .blue)
    #expect(router.epoch >= epoch)
    #expect(try await api.status("web").app.live == .blue)
    await cluster.stop()
  }

  @Test("a router that does not ack in time aborts the switch everywhere; the old color stays")
  func silentRouterAborts() async throws {
    var cluster = try await Cluster.start(switchTimeout: .milliseconds(500))
    let router = try await cluster.addRouter("edge-1")
    try await cluster.deployBoth()
    let api = cluster.api
    #expect(await eventually { Self.live(router) == (.blue, 2) })
    try await cluster.scheduler.withRawConnection { raw in
      guard try await raw.helloAsRouter("silent") else {
        Issue.record("no welcome for a router")
        return
      }
      let started = ContinuousClock.now
      await #expect {
        _ = try await api.switchLive("web", force: true)
      } throws: { error in
        let message = (error as? ClientError)?.message ?? ""
        return message.contains("switch aborted") && message.contains("silent")
      }
      #expect(ContinuousClock.now - started < .seconds(3))
      // The router now answers: its install's ack shows its epoch at once; the prepare's ack,
      // come too late for an aborted table, does not move it.
      var install: (id: String, epoch: Int64)?
      var prepared: (id: String, epoch: Int64)?
      while install == nil || prepared == nil, let frame = try await raw.next() {
        guard case .routes(let routes) = frame.message, let id = frame.id else { continue }
        if routes.phase == .install { install = (id, routes.table.epoch) }
        if routes.phase == .prepare { prepared = (id, routes.table.epoch) }
      }
      let (installID, installEpoch) = try #require(install)
      let (prepareID, prepareEpoch) = try #require(prepared)
      func silent() async -> RouterView? {
        try? await api.routers().routers.first { $0.name == "silent" }
      }
      #expect(await silent()?.epoch == 0)
      try await raw.send(Frame(id: installID, .routeAck(RouteAck(epoch: installEpoch, ok: true))))
      #expect(await eventually { await silent()?.epoch == installEpoch })
      try await raw.send(Frame(id: prepareID, .routeAck(RouteAck(epoch: prepareEpoch, ok: true))))
      try await Task.sleep(for: .milliseconds(200))
      #expect(await silent()?.epoch == installEpoch)
      #expect(prepareEpoch > installEpoch)
    }
    #expect(Self.live(router).0 == .blue)
    #expect(try await api.status("web").app.live == .blue)
    let events = try await api.events(limit: 200)
    #expect(
      events.contains { $0.kind == "app.switch_aborted" && $0.detail.contains("blue stays live") })
    // With the silent router gone the switch goes through.
    #expect(await eventually { (try? await api.routers().routers.filter(\.connected).count) == 1 })
    _ = try await api.switchLive("web", force: true)
    #expect(Self.live(router).0 == .green)
    await cluster.stop()
  }

  @Test("a router's counts carry across its restarts and are not counted twice on a reconnect")
  func countsCarryAcrossRouterRestarts() async throws {
    let cluster = try await Cluster.start()
    let api = cluster.api
    _ = try await api.apply(Fixtures.app("web", hosts: ["web.test"]))
    @Sendable func blue() async -> SetTraffic? {
      try? await api.status("web").traffic.first { $0.color == .blue }
    }
    func connected() async -> Bool? {
      try? await api.routers().routers.first { $0.name == "edge-r" }?.connected
    }
    /// One connection of router `edge-r`, whose process started at `started`, reporting
    /// `requests` answered and `inFlight` in flight; closed once the scheduler counted it.
    func report(started: Double, requests: Int64, inFlight: Int64, total: Int64) async throws {
      #expect(await eventually { await connected() != true })
      var traffic = SetTraffic(app: "web", color: .blue)
      for _ in 0..<requests { traffic.record(.success, micros: 300) }
      traffic.inFlight = inFlight
      let sent = traffic
      try await cluster.scheduler.withRawConnection { raw in
        guard try await raw.helloAsRouter("edge-r") else {
          Issue.record("no welcome for a router")
          return
        }
        try await raw.send(
          Frame(
            id: "rr0",
            .routerReport(
              RouterReport(
                epoch: 1, traffic: [sent], startedAt: Date(timeIntervalSince1970: started)))))
        let counted = await eventually {
          let now = await blue()
          return now?.requests == total && now?[.success] == total && now?.inFlight == inFlight
        }
        let seen = await blue()
        #expect(
          counted, "after a report of \(requests) from \(started): \(String(describing: seen))")
      }
    }
    try await report(started: 100, requests: 5, inFlight: 2, total: 5)
    // The same process again (a reconnect): its counts replace what it said before.
    try await report(started: 100, requests: 7, inFlight: 1, total: 7)
    // A new process: it counts from zero, its predecessor's 7 are kept (not its 1 in flight).
    try await report(started: 200, requests: 3, inFlight: 0, total: 10)
    try await report(started: 300, requests: 1, inFlight: 0, total: 11)
    await cluster.stop()
  }

  @Test("a live slot whose health fails leaves every router's table, and comes back")
  func unhealthySlotLeavesRouting() async throws {
    let (cluster, router) = try await Self.deployedWithRouter()
    let api = cluster.api
    let blue = try #require(try await api.status("web").sets.first { $0.color == .blue })
    let port = blue.slots[0].hostPort
    cluster.prober.set(port: port, failure: "connection refused")
    #expect(await eventually { Self.live(router) == (.blue, 1) })
    #expect(router.table.app(named: "web")?.live?.upstreams.contains { $0.port == port } == false)
    cluster.prober.set(port: port, failure: nil)
    #expect(await eventually { Self.live(router) == (.blue, 2) })
    await cluster.stop()
  }

  @Test("the slots of a node that goes down leave every router's table")
  func downNodeLeavesRouting() async throws {
    let (cluster, router) = try await Self.deployedWithRouter()
    let api = cluster.api
    let blue = try #require(try await api.status("web").sets.first { $0.color == .blue })
    let onN1 = Set(blue.slots.filter { $0.node == "n1" }.map(\.index))
    let n2Slots = Set(blue.slots.filter { $0.node == "n2" }.map { "\($0.index):\($0.hostPort)" })
    cluster.agents[0].cancel()
    // Once n1 is down, no slot allocated on it is routed. Its slots may come back re-placed
    // on n2 before this looks, even on the same port numbers (each node lends from its own
    // range), so the check reads where each slot is allocated now.
    #expect(
      await eventually(timeout: .seconds(15)) {
        guard (try? await api.nodes().first { $0.name == "n1" })??.state == .down,
          let set = try? await api.status("web").sets.first(where: { $0.color == .blue })
        else { return false }
        let stillOnN1 = Set(
          set.slots.filter { $0.node == "n1" }.map { "\($0.index):\($0.hostPort)" })
        let live = Set(
          (router.table.app(named: "web")?.live?.upstreams ?? []).map {
            "\($0.slot.index):\($0.port)"
          })
        return live.isDisjoint(with: stillOnN1) && live.isSuperset(of: n2Slots)
      })
    let n1 = try await api.nodes().first { $0.name == "n1" }
    #expect(onN1.isEmpty || n1?.state == .down)
    await cluster.stop()
  }

  @Test("keep_warm retires the old set on its own after a switch")
  func keepWarmRetires() async throws {
    let timers = ManualTimers()
    var cluster = try await Cluster.start(timers: timers)
    let router = try await cluster.addRouter("edge-1")
    try await cluster.deployBoth(keepWarmMillis: 400)
    let api = cluster.api
    #expect(await eventually { Self.live(router) == (.blue, 2) })
    let switched = try await api.switchLive("web", force: true)
    // The timer waits its keep_warm; nothing is retired before it fires.
    #expect(
      timers.scheduled == [.keepWarm(app: "web", deployment: switched.deployment): 400])
    #expect(try await api.status("web").sets.count == 2)
    await timers.fireAll()
    #expect(try await api.status("web").sets.map(\.color) == [.green])
    let retired = try #require(try await api.events(limit: 200).first { $0.kind == "app.retired" })
    #expect(retired.actor == "scheduler:keep_warm")
    #expect(router.table.app(named: "web")?.candidate == nil)
    await cluster.stop()
  }

  @Test("a router with a wrong token is refused with a message naming the router token")
  func wrongRouterToken() async throws {
    let scheduler = try await InProcessScheduler.start()
    let reply = try await scheduler.withRawConnection { raw in
      try await raw.send(
        Frame(
          id: "h",
          .hello(Hello(role: .router, versions: [1], node: "edge-9", token: "wrong"))))
      return try await raw.nextError()
    }
    #expect(reply?.code == .unauthorized)
    #expect(reply?.message.contains("TURNOUT_ROUTER_TOKEN") == true)
    await scheduler.stop()
  }
}
