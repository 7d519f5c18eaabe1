import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing
import WireTransport

extension ProcessSuites {
  /// schedctl rebalance against schedd, two sched-agents, a sched-router and the sample app on
  /// the real Docker Engine, with load through the router while it moves a set.
  @Suite(
    "Rebalance on the real Docker Engine", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine at /var/run/docker.sock"))
  struct RebalanceProcessTests {
    let cluster = ProcessCluster("rebalance")
    let tag = UUID().uuidString.prefix(5).lowercased()
    var api: APIClient { cluster.api }

    @Test(
      "two apps pinned to a node each, then let go: --plan moves one, --apply does it under load with 0 failed requests and leaves the other node empty"
    )
    func planAndApplyUnderLoad() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let agents = [
        cluster.agent("rb1", ports: "29700-29799", extra: ["--labels", "zone=a"]),
        cluster.agent("rb2", ports: "29800-29899", extra: ["--labels", "zone=b"]),
      ]
      for agent in agents { try agent.start() }
      let port = freePort()
      let router = cluster.router("edge-rb", port: port)
      try router.start()
      let apps = ["rba\(tag)", "rbb\(tag)"]
      defer {
        router.kill(SIGTERM)
        for agent in agents { agent.kill(SIGTERM) }
        scheduler.kill(SIGTERM)
        for app in apps { ProcessCluster.removeContainers(of: app) }
      }
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 2 })
      // Each app held to its own node by a constraint, deployed, then the constraint dropped:
      // the sets stay where they are, on two nodes where one would do.
      for (app, zone) in zip(apps, ["a", "b"]) {
        var spec = ProcessCluster.sampleSpec(app)
        spec.constraints = ["zone": zone]
        _ = try await api.apply(spec)
        _ = try await api.deploy(app, image: nil)
      }
      for app in apps {
        #expect(
          await eventually(timeout: .seconds(40)) {
            (try? await api.status(app))?.sets.first?.state == .ready
          }, "\(app) not ready")
        _ = try await api.apply(ProcessCluster.sampleSpec(app))
      }
      #expect(
        await eventually(timeout: .seconds(10)) {
          (try? await api.routers())?.routers.first.map { $0.connected && $0.inSync } == true
        })

      let shown = try await cluster.schedctl(["rebalance", "--plan"])
      #expect(shown.status == 0, "\(shown.output)")
      #expect(shown.output.contains("Nodes in use: 2 -> 1"), "\(shown.output)")
      #expect(shown.output.contains("\(apps[1]) (blue): rb2 x2 -> rb1 x2"), "\(shown.output)")
      #expect(shown.output.contains("Freed (empty afterwards, can be turned off): rb2"))
      let plan = try await api.rebalancePlan()
      #expect(plan.moves.map(\.app) == [apps[1]] && plan.freed == ["rb2"], "\(plan)")

      // Keep-alive load on both apps through the router while the plan is carried out.
      let stop = OnceFlag()
      let deadline = ContinuousClock.now + .seconds(120)
      async let first = SwitchProcessTests.load(
        urls: ["http://127.0.0.1:\(port)"], host: "\(apps[0]).test", connections: 3, stop: stop,
        deadline: deadline, version: { _ in "1" })
      async let second = SwitchProcessTests.load(
        urls: ["http://127.0.0.1:\(port)"], host: "\(apps[1]).test", connections: 3, stop: stop,
        deadline: deadline, version: { _ in "1" })
      try await Task.sleep(for: .milliseconds(500))
      let applied = try await cluster.schedctl(["rebalance", "--apply"])
      try await Task.sleep(for: .milliseconds(500))
      stop.set()
      let samples = await first + second
      #expect(applied.status == 0, "\(applied.output)")
      #expect(applied.output.contains("moved \(apps[1]): rb2 x2 -> rb1 x2"), "\(applied.output)")
      #expect(applied.output.contains("done: nothing runs on rb2 now"), "\(applied.output)")
      let failures = samples.filter { !$0.ok }
      #expect(
        failures.isEmpty,
        "\(failures.count) of \(samples.count) failed: \(failures.prefix(5).map { $0.problem ?? "" })"
      )
      // The moved app was served by both colors: the old set before the switch, the copy after.
      let colors = Set(samples.compactMap(\.color))
      #expect(colors == ["blue", "green"], "\(colors)")
      #expect(samples.count > 100, "only \(samples.count) requests")
      let placement = try await api.placement()
      #expect(!placement.slots.contains { $0.node == "rb2" }, "\(placement.slots)")
      #expect(placement.slots.filter { $0.node == "rb1" }.count == 4)
      let again = try await cluster.schedctl(["rebalance"])
      #expect(again.output.contains("Nothing to do"), "\(again.output)")
      print(applied.output)
      print(
        "rebalance e2e: \(samples.count) requests over 6 connections during the move, \(failures.count) failed"
      )
    }
  }
}
