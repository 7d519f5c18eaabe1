import AgentCore
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import SchedWire
import Testing

/// Deploys through the real scheduler and agents, in-process, with containers on fake runtimes.
@Suite("Deploy in-process", .timeLimit(.minutes(1)))
struct DeployTests {
  static func spec(slots: Int = 4, security: SecurityRequest = SecurityRequest()) -> AppSpec {
    AppSpec(
      name: "web", image: "web:1", slots: slots,
      resources: Resources(cpuMillis: 500, memoryBytes: 64 << 20),
      health: HealthCheck(intervalMillis: 100, timeoutMillis: 100), maxPerNode: 2,
      security: security)
  }

  struct Cluster {
    let scheduler: InProcessScheduler
    let runtimes: [FakeRuntime]
    let prober: ScriptedProber
    var agents: [Task<Void, any Error>]

    static func start(store: (any StateStore)? = nil) async throws -> Cluster {
      let scheduler = try await InProcessScheduler.start(
        // These tests are about slots, not liveness: a busy CI machine must not mark a node down.
        heartbeat: .milliseconds(250), store: store, missedBeats: 12)
      let runtimes = [
        FakeRuntime(images: ["web:1", "web:2"]), FakeRuntime(images: ["web:1", "web:2"]),
      ]
      let prober = ScriptedProber()
      let agents = [
        scheduler.startRuntimeAgent("n1", runtime: runtimes[0], prober: prober),
        scheduler.startRuntimeAgent("n2", runtime: runtimes[1], prober: prober),
      ]
      #expect(await eventually { (try? await scheduler.api.nodes().count) == 2 })
      return Cluster(scheduler: scheduler, runtimes: runtimes, prober: prober, agents: agents)
    }

    func setState(_ color: Color) async -> SetView? {
      (try? await scheduler.api.status("web"))?.sets.first { $0.color == color }
    }

    func containers() async -> [ContainerInfo] {
      var all: [ContainerInfo] = []
      for runtime in runtimes { all += await runtime.list(labels: [ManagedLabels.managed: "true"]) }
      return all
    }

    func stop() async {
      for agent in agents { agent.cancel() }
      await scheduler.stop()
    }
  }

  @Test func deployBuildsTheIdleColorAndReportsItReady() async throws {
    let cluster = try await Cluster.start()
    let api = cluster.scheduler.api
    _ = try await api.apply(Self.spec())
    let blue = try await api.deploy("web", image: nil)
    #expect(blue.color == .blue)
    #expect(blue.placed.count == 4)
    #expect(await eventually { await cluster.setState(.blue)?.state == .ready })
    let containers = await cluster.containers()
    #expect(containers.count == 4)
    #expect(Set(containers.map(\.name)) == Set((0..<4).map { "turnout-web-blue-\($0)" }))
    #expect(
      containers.allSatisfy {
        $0.state == .running && $0.memoryBytes == 64 << 20 && $0.restartPolicy == "unless-stopped"
      })
    #expect(await cluster.runtimes[0].list(labels: [:]).count == 2)  // max 2 per node

    let green = try await api.deploy("web", image: "web:2")
    #expect(green.color == .green)
    #expect(await eventually { await cluster.setState(.green)?.state == .ready })
    let status = try await api.status("web")
    #expect(status.app.live == .blue)
    #expect(status.sets.map(\.color) == [.blue, .green])
    #expect(await cluster.containers().count == 8)

    try await api.stopSet("web", color: .green)
    #expect(await eventually { await cluster.containers().count == 4 })
    #expect(await cluster.containers().allSatisfy { $0.labels["turnout.color"] == "blue" })
    await cluster.stop()
  }

  @Test(
    "a deploy holds the app until its set settles: a second deploy or a verify is refused with who and since (14.5)"
  )
  func secondDeployIsRefusedWhileTheFirstBuilds() async throws {
    let cluster = try await Cluster.start()
    let api = cluster.scheduler.api
    // Health checks fail: the set stays starting, the deploy never settles on its own.
    for port in 20000...20099 { cluster.prober.set(port: port, failure: "HTTP 503") }
    _ = try await api.apply(Self.spec())
    let first = try await api.deploy("web", image: nil)
    do {
      _ = try await api.deploy("web", image: "web:2")
      Issue.record("a second deploy was accepted while the first builds")
    } catch {
      #expect(error.code == .refused)
      #expect(
        error.message.contains("locked by the deploy of \(first.deployment) (blue, 0/4 healthy)"))
      #expect(error.message.contains("by bootstrap ("))
      #expect(error.message.contains("schedctl stop-set web blue"))
    }
    do {
      _ = try await api.verify("web")
      Issue.record("a verify was accepted while a deploy builds")
    } catch {
      #expect(error.message.hasPrefix("verify refused: web is locked by the deploy"))
    }
    #expect(try await api.status("web").sets.map(\.deployment) == [first.deployment])
    // Once the set is ready the lock is gone.
    for port in 20000...20099 { cluster.prober.set(port: port, failure: nil) }
    #expect(await eventually { await cluster.setState(.blue)?.state == .ready })
    let second = try await api.deploy("web", image: "web:2")
    #expect(second.color == .green)
    #expect(await eventually { await cluster.setState(.green)?.state == .ready })
    await cluster.stop()
  }

  @Test("stop-set refuses the live set unless forced, and says what to do instead (14.3)")
  func stopSetOfTheLiveSetNeedsForce() async throws {
    let cluster = try await Cluster.start()
    let api = cluster.scheduler.api
    _ = try await api.apply(Self.spec())
    _ = try await api.deploy("web", image: nil)
    #expect(await eventually { await cluster.setState(.blue)?.state == .ready })
    do {
      try await api.stopSet("web", color: .blue)
      Issue.record("the live set was stopped without --force")
    } catch {
      #expect(error.code == .refused)
      #expect(error.message.contains("blue is the live set of web and serves production"))
      #expect(error.message.contains("schedctl deploy web, schedctl switch web"))
      #expect(error.message.contains("--force"))
    }
    #expect(await cluster.containers().count == 4)
    try await api.stopSet("web", color: .blue, force: true)
    #expect(await eventually { await cluster.containers().isEmpty })
    let events = try await api.events(after: 0, limit: 50)
    #expect(events.last { $0.kind == "set.stopped" }?.detail.contains("forced") == true)
    await cluster.stop()
  }

  @Test func aRestartedAgentAdoptsItsContainers() async throws {
    var cluster = try await Cluster.start()
    _ = try await cluster.scheduler.api.apply(Self.spec())
    _ = try await cluster.scheduler.api.deploy("web", image: nil)
    #expect(await eventually { await cluster.setState(.blue)?.state == .ready })
    let before = await cluster.runtimes[0].list(labels: [:])
    cluster.agents[0].cancel()
    _ = await cluster.agents[0].result
    cluster.agents[0] = cluster.scheduler.startRuntimeAgent(
      "n1", runtime: cluster.runtimes[0], prober: cluster.prober)
    #expect(await eventually { (try? await cluster.scheduler.api.nodes().first?.generation) == 2 })
    let ready = await eventually { await cluster.setState(.blue)?.state == .ready }
    let shown = String(describing: await cluster.setState(.blue))
    #expect(ready, "\(shown)")
    let after = await cluster.runtimes[0].list(labels: [:])
    #expect(after.map(\.id) == before.map(\.id))
    #expect(after.map(\.startedAt) == before.map(\.startedAt))
    await cluster.stop()
  }

  @Test func aCrashedContainerIsStartedAgain() async throws {
    let cluster = try await Cluster.start()
    _ = try await cluster.scheduler.api.apply(Self.spec(slots: 2))
    _ = try await cluster.scheduler.api.deploy("web", image: nil)
    #expect(await eventually { await cluster.setState(.blue)?.state == .ready })
    let victim = try #require(await cluster.containers().first)
    let runtime =
      await cluster.runtimes[0].list(labels: [:]).isEmpty
      ? cluster.runtimes[1] : cluster.runtimes[0]
    try await runtime.crash(victim.id)
    #expect(await eventually { (try? await runtime.inspect(victim.id).state) == .running })
    await runtime.remove(victim.id)
    #expect(
      await eventually { await runtime.list(labels: [:]).contains { $0.name == victim.name } })
    // Both corrections reach the scheduler's event log.
    let drift = { () async -> [String] in
      ((try? await cluster.scheduler.api.events(limit: 100)) ?? []).filter {
        $0.kind == "slot.drift"
      }
      .map(\.detail)
    }
    #expect(
      await eventually {
        let details = await drift()
        return details.contains("\(victim.name): container was not running; started it")
          && details.contains("\(victim.name): container was gone; created it again")
      })
    await cluster.stop()
  }

  @Test(
    "slots asking for what the node does not allow are refused before Docker, with the reason",
    arguments: [
      (
        SecurityRequest(privileged: true), NetworkMode.bridge,
        "privileged mode is not allowed on this node (sched-agent --allow-privileged)"
      ),
      (
        SecurityRequest(), NetworkMode.host,
        "network: host is not allowed on this node (sched-agent --allow-host-network)"
      ),
    ])
  func unsafeSlotsAreRefusedWithTheReason(
    security: SecurityRequest, network: NetworkMode, reason: String
  ) async throws {
    let cluster = try await Cluster.start()
    var spec = Self.spec(slots: 2, security: security)
    spec.network = network
    _ = try await cluster.scheduler.api.apply(spec)
    _ = try await cluster.scheduler.api.deploy("web", image: nil)
    #expect(
      await eventually {
        await cluster.setState(.blue)?.slots.allSatisfy { $0.health == .refused } == true
      })
    let slot = try #require(await cluster.setState(.blue)?.slots.first)
    #expect(slot.message == reason)
    #expect(await cluster.setState(.blue)?.state == .degraded)
    #expect(await cluster.containers().isEmpty)
    await cluster.stop()
  }

  @Test func aSetThatDoesNotFitPlacesNothing() async throws {
    let cluster = try await Cluster.start()
    _ = try await cluster.scheduler.api.apply(Self.spec(slots: 5))  // at most 2 per node, 2 nodes
    do {
      _ = try await cluster.scheduler.api.deploy("web", image: nil)
      Issue.record("expected a conflict")
    } catch {
      #expect(error.message.contains("does not fit"))
      #expect(error.message.contains("slot 4: per-node limit reached on 2 nodes"))
    }
    #expect(try await cluster.scheduler.api.placement().slots.isEmpty)
    #expect(try await cluster.scheduler.api.status("web").sets.isEmpty)
    await cluster.stop()
  }

  @Test func unhealthySlotsDegradeTheSet() async throws {
    let cluster = try await Cluster.start()
    _ = try await cluster.scheduler.api.apply(Self.spec(slots: 2))
    let deployed = try await cluster.scheduler.api.deploy("web", image: nil)
    #expect(await eventually { await cluster.setState(.blue)?.state == .ready })
    cluster.prober.set(port: deployed.placed[0].hostPort, failure: "HTTP 503 from /healthz")
    #expect(await eventually { await cluster.setState(.blue)?.state == .degraded })
    let slot = try #require(await cluster.setState(.blue)?.slots.first { $0.index == 0 })
    #expect(slot.health == .unhealthy)
    #expect(slot.message == "HTTP 503 from /healthz")
    await cluster.stop()
  }

  @Test func unknownAppsAndBadSpecsAreNamed() async throws {
    let scheduler = try await InProcessScheduler.start()
    do {
      _ = try await scheduler.api.deploy("ghost", image: nil)
      Issue.record("expected not found")
    } catch {
      #expect(error.message.contains("no app named 'ghost'"))
    }
    var bad = Self.spec()
    bad.slots = 0
    do {
      _ = try await scheduler.api.apply(bad)
      Issue.record("expected bad request")
    } catch {
      #expect(error.message == "slots: must be 1 to 1000, got 0")
    }
    await scheduler.stop()
  }
}
