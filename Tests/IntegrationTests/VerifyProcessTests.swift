import DockerRuntime
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

extension ProcessSuites {
  /// schedd, one sched-agent and a sched-router with a preview listener as processes, on the
  /// real Docker Engine: `schedctl verify` runs the app's tests from the candidate's digest in
  /// throwaway containers (one with a companion), checks every slot, leaves nothing behind, and
  /// gates the switch.
  @Suite(
    "Pre-production check on the real Docker Engine", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine at /var/run/docker.sock"))
  struct VerifyProcessTests {
    let cluster = ProcessCluster("verify-e2e")
    let app = "vf\(UUID().uuidString.prefix(6).lowercased())"
    var api: APIClient { cluster.api }

    func spec(withBrokenTest: Bool) -> AppSpec {
      var tests = [
        TestSpec(
          name: "unit", command: ["sh", "-c", "cat /www/version && test -f /www/index.html"]),
        TestSpec(
          name: "db",
          command: [
            "sh", "-c",
            "for i in $(seq 1 50); do wget -qO- http://db:8080/version && exit 0; sleep 0.2; done; exit 1",
          ],
          timeoutMillis: 60_000, companions: [CompanionSpec(name: "db", image: sampleImage)]),
      ]
      if withBrokenTest {
        tests.append(
          TestSpec(name: "broken", command: ["sh", "-c", "echo 2 of 9 specs failed >&2; exit 2"]))
      }
      var spec = ProcessCluster.sampleSpec(app)
      spec.tests = tests
      spec.checks = [
        CheckSpec(name: "version", http: HTTPCheck(path: "/version", bodyContains: "2")),
        CheckSpec(name: "port", http: nil, timeoutMillis: 1000),
      ]
      return spec
    }

    /// Containers and networks of this app's test runs still on the engine.
    func leftovers() async throws -> Int {
      try await verifyLeftovers([ManagedLabels.verify: "true", ManagedLabels.app: app])
    }

    @Test(
      "tests from the digest (one with a companion), a check failing on one slot, no leftovers, and the switch gated on the result"
    )
    func verifyGatesTheSwitch() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let agent = cluster.agent("vf1", ports: "29200-29299")
      try agent.start()
      let router = cluster.router("edge-v", port: freePort(), previewPort: freePort())
      try router.start()
      defer {
        router.kill(SIGTERM)
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        ProcessCluster.removeContainers(of: app)
      }
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 1 })
      _ = try await api.apply(spec(withBrokenTest: true))
      // A deploy holds the app until its set is ready: blue first, then green.
      #expect(try await cluster.deployBlueThenGreen(app, timeout: .seconds(30)))
      #expect(
        await eventually(timeout: .seconds(10)) {
          (try? await api.routers().routers.first?.inSync) == true
        })
      let digest = try await DockerRuntime().imageID("turnout-sample:2")

      // Slot 1 of green loses the page the version check reads: that check fails there only.
      let broken = "turnout-\(app)-green-1"
      try SwitchProcessTests.docker(["exec", broken, "mv", "/www/version", "/www/version.off"])
      let failed = try await cluster.schedctl(["verify", app])
      #expect(failed.status == 1, "\(failed.output)")
      let out = failed.output
      print("verify e2e, the failing run:\n\(out)")
      #expect(out.contains("= \(digest)"), "\(out)")
      #expect(out.contains("ok   test unit on node"), "\(out)")
      #expect(out.contains("ok   test db on node"), "\(out)")
      #expect(out.contains("FAIL test broken on node"), "\(out)")
      #expect(out.contains("| 2 of 9 specs failed"), "\(out)")
      #expect(out.contains("ok   check version on slot \(app)/green/0"), "\(out)")
      #expect(out.contains("FAIL check version on slot \(app)/green/1"), "\(out)")
      #expect(out.contains("ok   check port on slot \(app)/green/1"), "\(out)")
      #expect(try await leftovers() == 0)

      let shown = try await cluster.schedctl(["verify", app, "--show"])
      #expect(shown.status == 1)
      #expect(shown.output.contains("failed: test broken"), "\(shown.output)")
      let refused = try await cluster.schedctl(["switch", app])
      #expect(refused.status == 1)
      #expect(refused.output.contains("its last verification"), "\(refused.output)")
      #expect(refused.output.contains("failed: test broken"), "\(refused.output)")
      #expect(try await api.status(app).app.live == .blue)

      // Fixed: the slot serves its page again and the broken test is gone from the spec.
      try SwitchProcessTests.docker(["exec", broken, "mv", "/www/version.off", "/www/version"])
      _ = try await api.apply(spec(withBrokenTest: false))
      let passed = try await cluster.schedctl(["verify", app])
      #expect(passed.status == 0, "\(passed.output)")
      // 2 tests, then 2 checks on 2 slots and the version check through the preview.
      #expect(passed.output.contains("passed: 7 step(s)"), "\(passed.output)")
      #expect(
        passed.output.contains("ok   check version on router edge-v preview"), "\(passed.output)")
      #expect(try await leftovers() == 0)
      let switched = try await cluster.schedctl(["switch", app])
      #expect(switched.status == 0, "\(switched.output)")
      #expect(try await api.status(app).app.live == .green)
      let events = try await api.events(limit: 500).filter { $0.subject == app }.map(\.kind)
      #expect(events.contains("app.verify_failed") && events.contains("app.verified"))
    }
  }
}
