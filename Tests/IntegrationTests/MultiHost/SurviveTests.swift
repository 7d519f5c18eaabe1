import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// Host death and partitions on three test hosts, with the scheduler's default heartbeat
  /// (1 s, a node down after 3 s): the dead host's slots are re-placed, started, checked and
  /// routed; a host back from a partition stops its stale copies; no GET fails meanwhile.
  @Suite(
    "Surviving host death and partitions", .serialized, .timeLimit(.minutes(5)),
    .enabled(
      if: TestEnvironment.has(TestHosts.available && RuntimeKind.dockerAvailable),
      "test hosts need root, nsenter, iproute2 and dockerd"))
  struct SurviveTests {
    let cluster = ProcessCluster("survive", heartbeat: "1s")
    let app = "sv\(UUID().uuidString.prefix(6).lowercased())"

    /// Hosts, scheduler, agents, a router; 4 slots of the sample app, at most 2 per node, so
    /// one host is left with room. Returns what `stop` ends.
    func start() async throws -> (TestHosts, [ManagedProcess], port: Int) {
      let hosts = try await TestHosts.up(3)
      let scheduler = cluster.scheddForHosts()
      try scheduler.start()
      let started = ContinuousClock.now
      let agents = hosts.names.map { cluster.agent(onHost: $0) }
      for agent in agents { try agent.start() }
      let port = freePort()
      let edge = ManagedProcess(
        "router-edge",
        [
          "--scheduler", "\(TestHosts.rootAddress):\(cluster.clusterPort)", "--token",
          cluster.token(ProcessCluster.routerToken), "--name", "edge", "--listen",
          "127.0.0.1:\(port)",
          "--state-file", cluster.workDir.appendingPathComponent("routes-edge.json").path,
        ], logDirectory: cluster.workDir)
      try edge.start()
      let processes = [edge] + agents + [scheduler]
      #expect(
        await eventually(timeout: .seconds(20)) {
          (try? await cluster.api.nodes().filter { $0.state == .ready }.count) == 3
        }, "agents: \(agents.map(\.log).joined(separator: "\n"))")
      let push = try await cluster.schedctl(["image", "push", "turnout-sample:1"])
      #expect(push.status == 0, "\(push.output)")
      var spec = ProcessCluster.sampleSpec(app, maxPerNode: 2)
      spec.slots = 4
      _ = try await cluster.api.apply(spec)
      let deploy = try await cluster.schedctl(["deploy", app, "--timeout", "90s"])
      #expect(deploy.status == 0, "\(deploy.output)")
      #expect(
        await eventually(timeout: .seconds(10)) {
          (try? await TestHTTP.fetch(
            "http://127.0.0.1:\(port)/version", headers: [("host", "\(app).test")]))?.status
            == 200
        })
      // A scheduler that just started gives nodes 10 s to dial in again before any is down
      // (--restart-grace): what is measured here is a host's death in a running cluster.
      let grace = started + .seconds(10.5)
      if ContinuousClock.now < grace { try await Task.sleep(until: grace) }
      return (hosts, processes, port)
    }

    func stop(_ hosts: TestHosts, _ processes: [ManagedProcess]) {
      for process in processes { process.kill(SIGTERM) }
      hosts.down()
    }

    /// The live set when every slot is healthy on a node other than `gone`.
    func whole(without gone: String) async -> SetView? {
      guard let set = try? await cluster.api.status(app).sets.first(where: \.live),
        set.slots.count == 4,
        set.slots.allSatisfy({ $0.health == .healthy && $0.node.rawValue != gone })
      else { return nil }
      return set
    }

    /// Containers (hostnames) answering `/cgi-bin/whoami` through the router, a few requests.
    func served(_ port: Int) async -> Set<String> {
      var names: Set<String> = []
      for _ in 0..<4 {
        guard
          let answer = try? await TestHTTP.fetch(
            "http://127.0.0.1:\(port)/cgi-bin/whoami", headers: [("host", "\(app).test")]),
          let host = answer.text.split(separator: " ").last(where: { $0.hasPrefix("host=") })
        else { continue }
        names.insert(String(host.dropFirst(5)).trimmingCharacters(in: .whitespacesAndNewlines))
      }
      return names
    }

    /// Waits until the set is whole without `gone` and the router serves from each new slot;
    /// returns the seconds since `since` and the set.
    func wholeAndRouted(without gone: String, since: ContinuousClock.Instant, port: Int)
      async -> (Double, SetView)?
    {
      var seen: Set<String> = []
      var result: (Double, SetView)?
      _ = await eventually(timeout: .seconds(60), every: .milliseconds(50)) {
        guard let set = await whole(without: gone) else { return false }
        seen.formUnion(await served(port))
        let ids = Set(set.slots.compactMap(\.containerID))
        guard ids.isSubset(of: seen) else { return false }
        result = ((ContinuousClock.now - since).seconds, set)
        return true
      }
      return result
    }

    @Test("a host's death: its slots re-placed, started, checked and routed; no GET fails")
    func hostDeath() async throws {
      let (hosts, processes, port) = try await start()
      defer { stop(hosts, processes) }
      let before = try #require(await whole(without: "none"))
      let victim = try #require(before.slots.first?.node.rawValue)
      let load = KeepAliveLoad(port: port, path: "/version", hostHeader: "\(app).test")
      load.start(connections: 4, requests: 1_000_000, for: .seconds(90))
      try await Task.sleep(for: .seconds(1))
      let killed = ContinuousClock.now
      print("killing \(victim) at \(Date().timeIntervalSince1970)")
      try await TestHosts.run(["kill", victim])
      let outcome = await wholeAndRouted(without: victim, since: killed, port: port)
      try await Task.sleep(for: .seconds(1))
      let figures = load.stop()
      let (seconds, after) = try #require(outcome, "never whole: \(processes.last?.log ?? "")")
      print(
        "host death to whole and routed: \(String(format: "%.2f", seconds)) s; load: \(figures)")
      #expect(after.slots.filter { $0.node.rawValue == victim }.isEmpty)
      #expect(figures.failed == 0, "\(figures)")
      #expect(figures.ok > 100, "\(figures)")
      let events = try await cluster.api.events(limit: 500)
      for event in events.suffix(12) {
        print("  \(event.at.timeIntervalSince1970) \(event.kind) \(event.subject) \(event.detail)")
      }
      let moved = events.filter { $0.kind == "slot.replaced" }
      #expect(moved.count == 2, "\(moved)")
      #expect(moved.allSatisfy { $0.detail.hasPrefix("from \(victim) to ") }, "\(moved)")
      #expect(seconds < 20)
    }

    @Test(
      "a partition past the TTL: slots re-placed, the cut host keeps its containers, then stops its stale copies, which serve nothing"
    )
    func partition() async throws {
      let (hosts, processes, port) = try await start()
      defer {
        for host in hosts.names {
          try? runToEnd(URL(fileURLWithPath: "/bin/bash"), [TestHosts.script.path, "heal", host])
        }
        stop(hosts, processes)
      }
      let before = try #require(await whole(without: "none"))
      let victim = try #require(before.slots.first?.node.rawValue)
      let stale = Set(before.slots.filter { $0.node.rawValue == victim }.compactMap(\.containerID))
      #expect(stale.count == 2)
      // Flap damping: a cut shorter than the TTL (3 s) moves nothing. (1 s: TCP's backoff
      // delivers what was held a little after the heal, and the silence the scheduler sees
      // is longer than the cut.)
      try await TestHosts.run(["cut", victim])
      try await Task.sleep(for: .seconds(1))
      try await TestHosts.run(["heal", victim])
      try await Task.sleep(for: .seconds(4))
      let short = try await cluster.api.events(limit: 500)
      #expect(!short.contains { $0.kind == "slot.replaced" || $0.kind == "node.down" }, "\(short)")
      #expect(
        await whole(without: "none")?.slots.map(\.containerID) == before.slots.map(\.containerID))
      let cut = ContinuousClock.now
      try await TestHosts.run(["cut", victim])
      let outcome = await wholeAndRouted(without: victim, since: cut, port: port)
      let (seconds, _) = try #require(outcome, "never whole: \(processes.last?.log ?? "")")
      print("partition to whole and routed: \(String(format: "%.2f", seconds)) s")
      // The data plane does not depend on the scheduler: the cut host's containers still run.
      let running = try TestHosts.docker(
        victim, ["ps", "-q", "--no-trunc", "--filter", "label=turnout.app=\(app)"])
      #expect(running.output.split(separator: "\n").count == 2, "\(running.output)")
      // Back: no request reaches a stale copy, and it stops within a heartbeat or so.
      let load = KeepAliveLoad(port: port, path: "/cgi-bin/whoami", hostHeader: "\(app).test")
      load.start(connections: 2, requests: 1_000_000, for: .seconds(60))
      let healed = ContinuousClock.now
      try await TestHosts.run(["heal", victim])
      var gone = false
      let cleared = await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
        let left = try? TestHosts.docker(
          victim, ["ps", "-q", "--filter", "label=turnout.app=\(app)"])
        gone =
          left?.status == 0 && left?.output.trimmingCharacters(in: .whitespacesAndNewlines) == ""
        return gone
      }
      let clearedAfter = (ContinuousClock.now - healed).seconds
      try await Task.sleep(for: .seconds(1))
      let figures = load.stop()
      print(
        "partition healed: stale copies stopped after \(String(format: "%.2f", clearedAfter)) s; load: \(figures)"
      )
      #expect(cleared, "stale copies still on \(victim)")
      let hits = figures.bodies.filter { body, _ in stale.contains { body.contains($0) } }
      #expect(hits.isEmpty, "requests served by stale copies: \(hits)")
      #expect(figures.failed == 0, "\(figures)")
      #expect(
        await eventually(timeout: .seconds(10)) {
          (try? await cluster.api.nodes().first { $0.name == victim }?.state) == .ready
        })
      let events = try await cluster.api.events(limit: 500)
      #expect(events.filter { $0.kind == "slot.replaced" }.count == 2)
    }
  }
}
