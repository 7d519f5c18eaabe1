import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// schedd and a router in this namespace; an agent on each of three test hosts, each host
  /// with its own address and its own Docker engine.
  @Suite(
    "Several hosts, each with its own engine", .serialized, .timeLimit(.minutes(5)),
    .enabled(
      if: TestEnvironment.has(TestHosts.available && RuntimeKind.dockerAvailable),
      "test hosts need root, nsenter, iproute2 and dockerd"))
  struct MultiHostTests {
    let cluster = ProcessCluster("multihost")
    let app = "mh\(UUID().uuidString.prefix(6).lowercased())"

    func router(_ port: Int, preview: Int) -> ManagedProcess {
      ManagedProcess(
        "router-edge",
        [
          "--scheduler", "\(TestHosts.rootAddress):\(cluster.clusterPort)", "--token",
          cluster.token(ProcessCluster.routerToken), "--name", "edge", "--listen",
          "127.0.0.1:\(port)",
          "--preview-listen", "127.0.0.1:\(preview)",
          "--default-app", app,
          "--state-file", cluster.workDir.appendingPathComponent("routes-edge.json").path,
        ], logDirectory: cluster.workDir)
    }

    @Test(
      "three hosts: each slot in its own host's engine on its address, behind a router; verify checks from the nodes and the router"
    )
    func slotsOnTheirOwnHosts() async throws {
      let hosts = try await TestHosts.up(3)
      defer { hosts.down() }
      // Each engine starts empty: images reach them only through the scheduler's store.
      let scheduler = cluster.scheddForHosts()
      try scheduler.start()
      let agents = hosts.names.map { cluster.agent(onHost: $0) }
      for agent in agents { try agent.start() }
      let port = freePort()
      let edge = router(port, preview: freePort())
      try edge.start()
      defer {
        edge.kill(SIGTERM)
        for agent in agents { agent.kill(SIGTERM) }
        scheduler.kill(SIGTERM)
      }

      #expect(
        await eventually(timeout: .seconds(20)) {
          (try? await cluster.api.nodes().filter { $0.state == .ready }.count) == 3
        }, "agents: \(agents.map(\.log).joined(separator: "\n"))")
      let nodes = try await cluster.api.nodes()
      #expect(
        Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0.address) })
          == ["th1": "10.91.0.11", "th2": "10.91.0.12", "th3": "10.91.0.13"])

      let push = try await cluster.schedctl(["image", "push", "turnout-sample:1"])
      #expect(push.status == 0, "\(push.output)")
      var spec = ProcessCluster.sampleSpec(app, maxPerNode: 2)
      spec.slots = 6
      _ = try await cluster.api.apply(spec)
      let deploy = try await cluster.schedctl(["deploy", app, "--timeout", "90s"])
      #expect(deploy.status == 0, "\(deploy.output)")
      let blue = try #require(try await cluster.api.status(app).sets.first)
      #expect(
        Dictionary(grouping: blue.slots, by: \.node.description).mapValues(\.count)
          == ["th1": 2, "th2": 2, "th3": 2])

      for host in hosts.names {
        // Each engine runs exactly its host's slots, published on its host's address only.
        let listed = try await TestHosts.docker(
          host, ["ps", "--filter", "label=turnout.app=\(app)", "--format", "{{.Ports}}"])
        let lines = listed.output.split(separator: "\n")
        #expect(lines.count == 2, "\(host): \(listed.output)")
        #expect(
          lines.allSatisfy { $0.hasPrefix("\(TestHosts.address(host)):") }, "\(listed.output)")
      }
      for slot in blue.slots {
        #expect(slot.address == TestHosts.address(slot.node.description))
        let answer = await httpGet("http://\(slot.address):\(slot.hostPort)/version", timeout: 3)
        #expect(answer?.body == "1\n", "slot \(slot.index) at \(slot.address):\(slot.hostPort)")
      }

      // The router in this namespace reaches the slots on every host, and stamps the digest
      // that served, the same on every host.
      let blueID = try await TestHosts.imageID("turnout-sample:1")
      var served: Set<String> = []
      var stamped: Set<String> = []
      #expect(
        await eventually(timeout: .seconds(10)) {
          guard let fetched = try? await TestHTTP.fetch("http://127.0.0.1:\(port)/version"),
            fetched.status == 200, let slot = fetched.headers["x-turnout-slot"]
          else { return false }
          served.insert(slot)
          stamped.insert(fetched.headers["x-turnout-image"] ?? "none")
          return served.count == 6
        }, "served by \(served.sorted())")
      #expect(stamped == [blueID])
      let listed = try await cluster.api.images()
      #expect(listed.map(\.image.reference) == ["turnout-sample:1"])
      #expect(listed.first?.nodes == hosts.names)
      #expect(listed.first?.image.config.rawValue == blueID)

      // Green beside it, checked before production: every slot by its own node, the preview
      // route by the router. The scheduler dials neither.
      let push2 = try await cluster.schedctl(["image", "push", "turnout-sample:2"])
      #expect(push2.status == 0, "\(push2.output)")
      let green = try await cluster.schedctl([
        "deploy", app, "--image", "turnout-sample:2", "--timeout", "90s",
      ])
      #expect(green.status == 0, "\(green.output)")
      // An app-only change: each node fetched only the layers its engine lacked.
      let changed = try await TestHosts.newLayers("turnout-sample:2", since: "turnout-sample:1")
      var pulls: [NodePull] = []
      #expect(
        await eventually(timeout: .seconds(10)) {
          pulls =
            (try? await cluster.api.status(app).sets.first { $0.image == "turnout-sample:2" }?
              .pulls) ?? []
          return pulls.count == 3 && pulls.allSatisfy { $0.pull.state == .done }
        }, "pulls: \(pulls)")
      for pull in pulls {
        #expect(pull.pull.layersFetched == changed.count, "\(pull)")
        #expect(pull.pull.bytesFetched == changed.reduce(0, +), "\(pull)")
      }
      let verify = try await cluster.schedctl(["verify", app])
      #expect(verify.status == 0, "\(verify.output)")
      for host in hosts.names {
        #expect(verify.output.contains("on node \(host) (port"), "\(verify.output)")
      }
      #expect(verify.output.contains("check health on router edge preview"), "\(verify.output)")
    }
  }
}
