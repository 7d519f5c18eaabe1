import AgentCore
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

/// Verification in-process: scheduler, two agents on fake runtimes whose test containers exit
/// as scripted.
@Suite("Verify in-process", .timeLimit(.minutes(1)))
struct VerifyTests {
  @Test("tests run from the candidate's digest; an agent lost mid-test fails that step at once")
  func agentLostMidTest() async throws {
    let scheduler = try await InProcessScheduler.start(
      heartbeat: .milliseconds(250), missedBeats: 12)
    let runtimes = [
      FakeRuntime(images: ["web:1", "web:2"]), FakeRuntime(images: ["web:1", "web:2"]),
    ]
    for runtime in runtimes {
      // Test containers: `true` exits 0 at once, anything else runs until removed.
      await runtime.whenStarted { spec in
        guard spec.labels[ManagedLabels.verify] == "true", spec.name.hasSuffix("-test") else {
          return nil
        }
        return spec.command == ["true"] ? (0, "ok\n") : nil
      }
    }
    let agents = zip(["n1", "n2"], runtimes).map {
      scheduler.startRuntimeAgent($0.0, runtime: $0.1)
    }
    defer { for agent in agents { agent.cancel() } }
    let api = scheduler.api
    #expect(await eventually { (try? await api.nodes().count) == 2 })
    _ = try await api.apply(
      AppSpec(
        name: "web", image: "web:1", slots: 2,
        resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20),
        health: HealthCheck(intervalMillis: 100, timeoutMillis: 100),
        tests: [
          TestSpec(name: "quick", command: ["true"]),
          TestSpec(name: "stuck", command: ["sleep", "600"], timeoutMillis: 600_000),
        ]))
    // A deploy holds the app until its set is ready: blue first, then green.
    _ = try await api.deploy("web", image: nil)
    #expect(await eventually { (try? await api.status("web"))?.sets.first?.state == .ready })
    _ = try await api.deploy("web", image: "web:2")
    #expect(
      await eventually {
        (try? await api.status("web"))?.sets.allSatisfy { $0.state == .ready } == true
      })
    let started = try await api.verify("web")
    #expect(started.digest == FakeRuntime.imageID(of: "web:2"))
    #expect(started.state == .running)
    // The stuck test holds a node: find it, and take that node's agent away.
    var stuckNode: String?
    #expect(
      await eventually {
        let current = try? await api.verification("web", id: started.id)
        stuckNode = current?.steps.first { $0.name == "stuck" && $0.target.hasPrefix("node ") }?
          .target.replacingOccurrences(of: "node ", with: "")
        return stuckNode != nil
      })
    let index = try #require(["n1", "n2"].firstIndex(of: stuckNode ?? ""))
    let lostAt = ContinuousClock.now
    agents[index].cancel()
    var finished: Verification?
    #expect(
      await eventually(timeout: .seconds(10)) {
        finished = try? await api.verification("web", id: started.id)
        return finished?.state == .failed
      })
    #expect(ContinuousClock.now - lostAt < .seconds(10))
    let steps = finished?.steps ?? []
    #expect(steps.first { $0.name == "quick" }?.state == .passed)
    #expect(steps.first { $0.name == "quick" }?.output == "ok\n")
    let stuck = steps.first { $0.name == "stuck" }
    #expect(stuck?.state == .failed)
    #expect(stuck?.detail?.contains("disconnected") == true, "\(String(describing: stuck))")
    // Stored against the digest, and the switch names the failure.
    await #expect {
      _ = try await api.switchLive("web")
    } throws: { error in
      ((error as? ClientError)?.message ?? "").contains(
        "its last verification (\(started.id)) failed")
    }
    await scheduler.stop()
  }

  @Test("a running test holds its CPU and memory on its node: a deploy cannot take them")
  func testRunsReserveResources() async throws {
    let scheduler = try await InProcessScheduler.start(
      heartbeat: .milliseconds(250), missedBeats: 12)
    let runtime = FakeRuntime(images: ["web:1", "web:2", "api:1"])
    // The test container never exits: its reservation lasts as long as the test.
    await runtime.whenStarted { _ in nil }
    let agent = scheduler.startRuntimeAgent(
      "n1", runtime: runtime, capacity: Resources(cpuMillis: 500, memoryBytes: 1 << 30))
    defer { agent.cancel() }
    let api = scheduler.api
    #expect(await eventually { (try? await api.nodes().count) == 1 })
    let small = Resources(cpuMillis: 100, memoryBytes: 32 << 20)
    _ = try await api.apply(
      AppSpec(
        name: "web", image: "web:1", slots: 2, resources: small,
        health: HealthCheck(intervalMillis: 100, timeoutMillis: 100),
        tests: [TestSpec(name: "long", command: ["sleep", "600"], timeoutMillis: 600_000)]))
    _ = try await api.apply(AppSpec(name: "api", image: "api:1", slots: 1, resources: small))
    // A deploy holds the app until its set is ready: blue first, then green.
    _ = try await api.deploy("web", image: nil)
    #expect(await eventually { (try? await api.status("web"))?.sets.first?.state == .ready })
    _ = try await api.deploy("web", image: "web:2")
    #expect(
      await eventually {
        (try? await api.status("web"))?.sets.allSatisfy { $0.state == .ready } == true
      })
    // 4 slots take 400m of 500m; the test takes the last 100m while it runs.
    let started = try await api.verify("web")
    #expect(
      await eventually {
        (try? await api.verification("web", id: started.id))?.steps.first?.target == "node n1"
      })
    await #expect {
      _ = try await api.deploy("api", image: nil)
    } throws: { error in
      ((error as? ClientError)?.message ?? "").contains("does not fit")
    }
    await scheduler.stop()
  }
}
