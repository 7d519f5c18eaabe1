import AgentCore
import DockerRuntime
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

extension ProcessSuites {
  /// schedd and two sched-agent processes driving the real Docker Engine.
  @Suite(
    "Deploys on the real Docker Engine", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine at /var/run/docker.sock"))
  struct DockerDeployTests {
    let cluster = ProcessCluster("docker-e2e")
    let app = "e2e\(UUID().uuidString.prefix(6).lowercased())"
    let docker = DockerRuntime()
    var api: APIClient { cluster.api }
    func schedd() -> ManagedProcess { cluster.schedd() }
    func agent(_ name: String, ports: String, extra: [String] = []) -> ManagedProcess {
      cluster.agent(name, ports: ports, extra: extra)
    }
    func schedctl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
      try await cluster.schedctl(arguments)
    }

    func spec(_ name: String, slots: Int = 4, security: SecurityRequest = SecurityRequest())
      -> AppSpec
    {
      AppSpec(
        name: name, image: "turnout-sample:1", slots: slots,
        resources: Resources(cpuMillis: 250, memoryBytes: 32 << 20),
        health: HealthCheck(path: "/healthz", intervalMillis: 250, timeoutMillis: 500),
        maxPerNode: 2,
        security: security)
    }

    func containers(_ app: String) async throws -> [ContainerInfo] {
      var out: [ContainerInfo] = []
      for listed in try await docker.list(labels: ["turnout.managed": "true", "turnout.app": app]) {
        out.append(try await docker.inspect(listed.id))
      }
      return out.sorted { $0.name < $1.name }
    }

    func ready(_ color: Color = .blue) async -> Bool {
      (try? await api.status(app))?.sets.first { $0.color == color }?.state == .ready
    }

    func cleanUp(_ apps: [String]) async {
      for app in apps {
        for container in (try? await docker.list(labels: ["turnout.app": app])) ?? [] {
          try? await docker.remove(container.id)
        }
      }
    }

    func runDocker(_ arguments: [String]) throws {
      #expect(try ProcessCluster.docker(arguments) == 0, "docker \(arguments)")
    }

    @Test(
      "deploy 4 slots, survive agent and scheduler restarts, replace a lost container, stop the set"
    )
    func lifecycle() async throws {
      var scheduler = schedd()
      try scheduler.start()
      var agents = [agent("dk1", ports: "26000-26099"), agent("dk2", ports: "27000-27099")]
      for agent in agents { try agent.start() }
      defer {
        for agent in agents { agent.kill(SIGTERM) }
        scheduler.kill(SIGTERM)
      }
      #expect(await eventually(timeout: .seconds(15)) { (try? await api.nodes().count) == 2 })
      _ = try await api.apply(spec(app))

      // 1. Deploy: 4 healthy slots, spread 2 and 2, printed as they come up.
      let deploy = try await schedctl(["deploy", app, "--timeout", "60s"])
      #expect(deploy.status == 0, "\(deploy.output)")
      #expect(deploy.output.contains("ready: 4/4 healthy"))
      let placed = try await containers(app)
      #expect(placed.map(\.name) == (0..<4).map { "turnout-\(app)-blue-\($0)" })
      let status = try await api.status(app)
      let blue = try #require(status.sets.first)
      #expect(Set(blue.slots.map(\.node)) == ["dk1", "dk2"])
      for container in placed {
        #expect(container.state == .running)
        #expect(container.cpuMillis == 250)
        #expect(container.memoryBytes == 32 << 20)
        #expect(container.restartPolicy == "unless-stopped")
        #expect(container.labels["turnout.app"] == app)
        #expect(container.labels["turnout.color"] == "blue")
        #expect(container.labels["turnout.deployment"] == blue.deployment)
        #expect(
          container.publishedPorts.count == 1 && container.publishedPorts[0].hasPrefix("127.0.0.1:")
        )
      }
      for slot in blue.slots {
        var body: String?
        _ = await eventually(timeout: .seconds(5)) {
          body = await httpGet("http://127.0.0.1:\(slot.hostPort)/version", timeout: 3)?.body
          return body != nil
        }
        #expect(body == "1\n", "slot \(slot.index) on port \(slot.hostPort)")
      }
      let identity = placed.map { "\($0.id) \($0.startedAt!.timeIntervalSince1970)" }

      // 2. Kill an agent with SIGKILL and restart it: no container restarted.
      agents[0].kill(SIGKILL)
      agents[0] = agent("dk1", ports: "26000-26099")
      try agents[0].start()
      #expect(
        await eventually { (try? await api.nodes().first { $0.name == "dk1" }?.generation) == 2 })
      #expect(await eventually { await ready() })
      #expect(
        try await containers(app).map { "\($0.id) \($0.startedAt!.timeIntervalSince1970)" }
          == identity)

      // 3. Kill the scheduler with SIGKILL and restart it: the same.
      scheduler.kill(SIGKILL)
      scheduler = schedd()
      try scheduler.start()
      #expect(await eventually(timeout: .seconds(15)) { await ready() })
      #expect(
        try await containers(app).map { "\($0.id) \($0.startedAt!.timeIntervalSince1970)" }
          == identity)

      // 4. A container removed by hand is replaced.
      let victim = placed[1]
      try await docker.remove(victim.id)
      #expect(
        await eventually(timeout: .seconds(15)) {
          let now = (try? await containers(app)) ?? []
          return now.count == 4
            && now.contains { $0.name == victim.name && $0.id != victim.id && $0.state == .running }
        })
      #expect(await eventually { await ready() })

      // 5. A container killed by hand runs again.
      let killed = try await containers(app)[2]
      try runDocker(["kill", killed.name])
      #expect(
        await eventually(timeout: .seconds(15)) {
          guard let now = try? await docker.inspect(killed.name) else { return false }
          return now.state == .running && now.startedAt != killed.startedAt
        })
      #expect(await eventually { await ready() })

      let driftEvents = try await api.events(limit: 500).filter { $0.kind == "slot.drift" }
      #expect(
        driftEvents.contains { $0.detail == "\(victim.name): container was gone; created it again" }
      )

      // 6. stop-set refuses the live set without --force; with it, no managed container is
      //    left behind.
      let refused = try await schedctl(["stop-set", app, "blue"])
      #expect(refused.status == 1, "\(refused.output)")
      #expect(refused.output.contains("serves production"), "\(refused.output)")
      let stop = try await schedctl(["stop-set", app, "blue", "--force"])
      #expect(stop.status == 0, "\(stop.output)")
      #expect(
        await eventually(timeout: .seconds(30)) { (try? await containers(app).isEmpty) == true })
      await cleanUp([app])

      // 7. SIGTERM stops an agent at once and cleanly (its image endpoint once held it until
      //    the SIGKILL that systemd sends after its stop timeout).
      kill(try #require(agents[1].pid), SIGTERM)
      #expect(
        await agents[1].waitForExit(timeout: .seconds(5)) == 0, "\(agents[1].log.suffix(2000))")
    }

    @Test("host network mode: the slot listens on its host port, told by PORT and HOST")
    func hostNetwork() async throws {
      let scheduler = schedd()
      try scheduler.start()
      let worker = agent("dk4", ports: "28100-28199", extra: ["--allow-host-network"])
      try worker.start()
      defer {
        worker.kill(SIGTERM)
        scheduler.kill(SIGTERM)
      }
      #expect(await eventually(timeout: .seconds(15)) { (try? await api.nodes().count) == 1 })
      let hosted = "\(app)-host"
      var hostSpec = spec(hosted, slots: 1)
      hostSpec.network = .host
      _ = try await api.apply(hostSpec)
      let deploy = try await schedctl(["deploy", hosted, "--timeout", "30s"])
      #expect(deploy.status == 0, "\(deploy.output)")
      let slot = try #require(try await api.status(hosted).sets.first?.slots.first)
      #expect(await httpGet("http://127.0.0.1:\(slot.hostPort)/version", timeout: 3)?.body == "1\n")
      #expect(try await containers(hosted).first?.publishedPorts == [])
      await cleanUp([hosted])
    }

    @Test("a spec asking for privileged mode is refused with the reason and creates nothing")
    func privilegedIsRefused() async throws {
      let scheduler = schedd()
      try scheduler.start()
      let worker = agent("dk3", ports: "28000-28099")
      try worker.start()
      defer {
        worker.kill(SIGTERM)
        scheduler.kill(SIGTERM)
      }
      #expect(await eventually(timeout: .seconds(15)) { (try? await api.nodes().count) == 1 })
      let risky = "\(app)-priv"
      _ = try await api.apply(spec(risky, slots: 1, security: SecurityRequest(privileged: true)))
      let deploy = try await schedctl(["deploy", risky, "--timeout", "30s"])
      #expect(deploy.status == 1)
      #expect(
        deploy.output.contains(
          "privileged mode is not allowed on this node (sched-agent --allow-privileged)"))
      #expect(try await containers(risky).isEmpty)
      await cleanUp([risky])
    }
  }
}
