import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import SchedWire
import Testing
import WireTransport

#if canImport(Glibc)
  import Glibc
#endif

extension ProcessSuites {
  /// The real executables on 127.0.0.1: schedd and three sched-agent processes.
  @Suite("schedd and agents as processes", .serialized, .timeLimit(.minutes(3)))
  struct ClusterProcessTests {
    let interval = 0.3  // seconds between heartbeats
    let cluster = ProcessCluster("cluster", heartbeat: "300ms")
    var clusterPort: Int { cluster.clusterPort }
    var apiPort: Int { cluster.apiPort }
    var api: APIClient { cluster.api }
    func schedd() -> ManagedProcess { cluster.schedd() }
    func agent(_ name: String, token: String = ProcessCluster.joinToken, ports: String)
      -> ManagedProcess
    { cluster.agent(name, token: token, ports: ports) }

    func nodes() async -> [NodeView] { (try? await api.nodes()) ?? [] }

    /// Total memory from sysconf(3), a source independent of the agent's /proc parsing.
    static func totalMemory() -> Int64 {
      Int64(sysconf(Int32(_SC_PHYS_PAGES))) * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test("nodes register with real capacity, go down when killed, survive schedd SIGKILL")
    func fullLifecycle() async throws {
      let scheduler = schedd()
      try scheduler.start()
      let agents = [
        agent("n1", ports: "21000-21099"), agent("n2", ports: "22000-22099"),
        agent("n3", ports: "23000-23099"),
      ]
      for agent in agents { try agent.start() }
      defer {
        for agent in agents { agent.kill(SIGTERM) }
        scheduler.kill(SIGTERM)
      }

      // 1. All three appear, ready, with this machine's CPUs and memory.
      let appeared = await eventually(timeout: .seconds(15)) {
        let nodes = await nodes()
        return nodes.count == 3 && nodes.allSatisfy { $0.state == .ready && $0.usage != nil }
      }
      #expect(appeared, "nodes did not appear; schedd log:\n\(scheduler.log)")
      let listed = await nodes()
      #expect(listed.map(\.name) == ["n1", "n2", "n3"])
      for node in listed {
        #expect(
          node.capacity.cpuMillis == Int64(ProcessInfo.processInfo.activeProcessorCount) * 1000)
        #expect(node.capacity.memoryBytes == Self.totalMemory())
        #expect(node.usage!.memoryUsedBytes > 0)
        #expect(
          node.usage!.memoryUsedBytes + node.usage!.memoryAvailableBytes
            == node.capacity.memoryBytes)
      }

      // 2. Garbage and oversized lines get error lines while the agents keep heartbeating.
      let before = await nodes().map { $0.heartbeatAgeMillis ?? .max }
      #expect(before.allSatisfy { $0 < 2000 })
      try await LineClient.withConnection(
        host: "127.0.0.1", port: clusterPort, maxLineBytes: 1 << 16,
        tls: ClientTLS(trust: .pinned(cluster.caFingerprint))
      ) { connection in
        var lines = connection.inbound.makeAsyncIterator()
        for _ in 0..<10 {
          try await connection.sendRaw(Array("definitely not json\n".utf8))
          guard case .line(let bytes) = try await lines.next(),
            case .error(let reply) = try LineCodec.decode(bytes.readableBytesView).get().message
          else {
            Issue.record("expected an error line")
            return
          }
          #expect(reply.code == .badJSON)
        }
        try await connection.sendRaw(
          Array(repeating: UInt8(ascii: "a"), count: (1 << 20) + 1) + [10])
        guard case .line(let bytes) = try await lines.next(),
          case .error(let reply) = try LineCodec.decode(bytes.readableBytesView).get().message
        else {
          Issue.record("expected an error line")
          return
        }
        #expect(reply.code == .lineTooLong)
        #expect(try await lines.next() == nil)
      }
      try await Task.sleep(for: .seconds(interval * 2))
      #expect(
        await nodes().allSatisfy {
          $0.state == .ready && ($0.heartbeatAgeMillis ?? .max) < Int64(interval * 2000)
        })

      // 3. An agent killed with SIGKILL is marked down within 3 intervals.
      agents[2].kill(SIGKILL)
      let killed = ContinuousClock.now
      let wentDown = await eventually(timeout: .seconds(5), every: .milliseconds(20)) {
        await nodes().first { $0.name == "n3" }?.state == .down
      }
      let downAfter = ContinuousClock.now - killed
      #expect(wentDown)
      // 3 intervals, plus one sweep (interval / 4) and 20ms of polling.
      #expect(
        downAfter <= .milliseconds(Int64(interval * 3250) + 20 + 100), "down after \(downAfter)")
      #expect(await nodes().filter { $0.state == .ready }.map(\.name) == ["n1", "n2"])
      // The API shows the node down as soon as the scheduler decides it; what must survive
      // the SIGKILL below is the committed record, so wait for its event.
      #expect(
        await eventually(timeout: .seconds(5)) {
          (try? await api.events(limit: 100))?.contains { $0.kind == "node.down" } == true
        })

      // 4. schedd killed with SIGKILL and restarted: every node is still listed at once,
      //    and the live agents are back within 10 s.
      let generations = Dictionary(
        uniqueKeysWithValues: await nodes().map { ($0.name, $0.generation) })
      scheduler.kill(SIGKILL)
      let restarted = schedd()
      try restarted.start()
      defer { restarted.kill(SIGTERM) }
      let restartedAt = ContinuousClock.now
      #expect(
        await eventually(timeout: .seconds(5), every: .milliseconds(20)) {
          await nodes().count == 3
        })
      let reloaded = await nodes()
      #expect(reloaded.map(\.name) == ["n1", "n2", "n3"])
      #expect(reloaded.first { $0.name == "n3" }?.state == .down)
      let back = await eventually(timeout: .seconds(10), every: .milliseconds(50)) {
        let nodes = await nodes()
        return ["n1", "n2"].allSatisfy { name in
          guard let node = nodes.first(where: { $0.name == name }) else { return false }
          return node.state == .ready && node.generation > (generations[name] ?? .max)
            && (node.heartbeatAgeMillis ?? .max) < Int64(interval * 1000)
        }
      }
      #expect(back, "agents not back; agent log:\n\(agents[0].log)")
      #expect(ContinuousClock.now - restartedAt < .seconds(10))
      let events = try await api.events(limit: 100).map { "\($0.kind) \($0.subject)" }
      #expect(events.contains("node.down n3"))
      #expect(events.filter { $0 == "node.registered n1" }.count == 2)
    }

    @Test("an agent with a wrong token is refused with a clear message and leaves no row")
    func wrongToken() async throws {
      let scheduler = schedd()
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      #expect(await eventually { (try? await api.nodes()) != nil })
      let intruder = agent("intruder", token: "not-the-token", ports: "24000-24099")
      try intruder.start()
      let code = await intruder.waitForExit(timeout: .seconds(10))
      #expect(code == 77)
      #expect(intruder.log.contains("join token refused for agent 'intruder'"))
      #expect(await nodes().isEmpty)
      #expect(try await api.events().isEmpty)
    }

    @Test("a connection that never says hello is closed after the default 10 s")
    func defaultHelloTimeout() async throws {
      let scheduler = schedd()
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      #expect(await eventually { (try? await api.nodes()) != nil })
      let started = ContinuousClock.now
      try await LineClient.withConnection(
        host: "127.0.0.1", port: clusterPort, maxLineBytes: 1 << 16,
        tls: ClientTLS(trust: .pinned(cluster.caFingerprint))
      ) { connection in
        var lines = connection.inbound.makeAsyncIterator()
        guard case .line(let bytes) = try await lines.next(),
          case .error(let reply) = try LineCodec.decode(bytes.readableBytesView).get().message
        else {
          Issue.record("expected an error line")
          return
        }
        #expect(reply.code == .helloTimeout)
        #expect(try await lines.next() == nil)
      }
      let waited = ContinuousClock.now - started
      #expect(waited >= .milliseconds(9900) && waited < .seconds(12), "closed after \(waited)")
    }

    @Test("schedctl prints tables, JSON, and exit codes scripts can rely on")
    func schedctl() async throws {
      let scheduler = schedd()
      try scheduler.start()
      let worker = agent("w1", ports: "25000-25009")
      try worker.start()
      defer {
        worker.kill(SIGTERM)
        scheduler.kill(SIGTERM)
      }
      #expect(await eventually { await nodes().count == 1 })
      let env = [
        "TURNOUT_API": "http://127.0.0.1:\(apiPort)", "TURNOUT_API_TOKEN": ProcessCluster.apiToken,
      ]

      let table = try await runSchedctl(["nodes"], env: env)
      #expect(table.status == 0)
      #expect(table.output.contains("w1"))
      #expect(table.output.contains("ready"))

      let json = try await runSchedctl(["nodes", "--output", "json"], env: env)
      let decoded = try JSONDecoder().decode(NodesResponse.self, from: Data(json.output.utf8))
      #expect(decoded.nodes.map(\.name) == ["w1"])

      let fits = try await runSchedctl(
        ["plan", "--slots", "2", "--cpu", "100m", "--memory", "64Mi"], env: env)
      #expect(fits.status == 0)
      #expect(fits.output.contains("Fits"))
      let noFit = try await runSchedctl(
        ["plan", "--slots", "11", "--cpu", "100m", "--memory", "64Mi"], env: env)
      #expect(noFit.status == 2)
      #expect(noFit.output.contains("no free host port on 1 node"))

      let badToken = try await runSchedctl(["nodes", "--token", "wrong"], env: env)
      #expect(badToken.status == 77)
      #expect(badToken.output.contains("bearer token refused"))
      let unreachable = try await runSchedctl(
        ["nodes", "--scheduler", "http://127.0.0.1:\(freePort())"], env: env)
      #expect(unreachable.status == 69)
      #expect(unreachable.output.contains("Is schedd running?"))
      let badFlag = try await runSchedctl(
        ["plan", "--slots", "1", "--cpu", "1", "--memory", "lots"], env: env)
      #expect(badFlag.status == 64)
      #expect(badFlag.output.contains("memory 'lots' is not valid"))
    }

    func runSchedctl(_ arguments: [String], env: [String: String]) async throws -> (
      status: Int32, output: String
    ) {
      try await cluster.schedctl(arguments, env: env)
    }
  }
}
