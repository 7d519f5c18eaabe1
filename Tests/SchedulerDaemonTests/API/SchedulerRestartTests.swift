import AgentCore
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import SchedWire
import Testing

@testable import SchedCtlCommands

/// Issue 14.7: schedctl across a restart of the scheduler.
@Suite("schedctl across a scheduler restart")
struct SchedulerRestartTests {
  @Test(
    "a switch whose answer was lost says what happened, from the live color read afterwards",
    arguments: [
      (Color?.some(.blue), Color?.some(.green), Int32(0), "took effect: web is live on green"),
      (.blue, .blue, 1, "did not take effect: web is still live on blue"),
    ])
  func lostSwitchAnswer(before: Color?, after: Color?, exit: Int32, says: String) {
    let app = AppRecord(spec: Fixtures.app("web"), live: after, updatedAt: Date())
    let (message, code) = SwitchOutput.afterLostAnswer(
      app: "web", verb: "switch", before: before, after: app, error: "connection reset")
    #expect(code == exit)
    #expect(message.contains(says), "\(message)")
  }

  @Test func lostSwitchAnswerWithTheSchedulerStillAway() {
    let (message, code) = SwitchOutput.afterLostAnswer(
      app: "web", verb: "rollback", before: .green, after: nil, error: "connection reset")
    #expect(code == 69)
    #expect(message.contains("its outcome is unknown. Check with: schedctl status web"))
  }

  @Test(
    "schedctl deploy waits across a scheduler restart and reports the set ready",
    .timeLimit(.minutes(1)))
  func deployOutlastsARestart() async throws {
    let store = MemoryStore()
    let (clusterPort, apiPort) = (freePort(), freePort())
    let first = try await InProcessScheduler.start(
      heartbeat: .milliseconds(200), store: store, missedBeats: 12, clusterPort: clusterPort,
      apiPort: apiPort)
    let prober = ScriptedProber()
    for port in 20000...20099 { prober.set(port: port, failure: "HTTP 503") }
    let agent = first.startRuntimeAgent(
      "n1", runtime: FakeRuntime(images: ["web:1"]), prober: prober)
    defer { agent.cancel() }
    #expect(await eventually { (try? await first.api.nodes().count) == 1 })
    _ = try await first.api.apply(Fixtures.quickApp())
    let schedctl = try ManagedProcess.binDirectory().appendingPathComponent("schedctl")
    let deploying = Task {
      try await run(
        schedctl, ["deploy", "web", "--timeout", "30s"], environment: first.schedctlEnvironment)
    }
    #expect(await eventually { (try? await first.api.status("web").sets.count) == 1 })
    await first.stop()
    try await Task.sleep(for: .seconds(1.5))
    let second = try await InProcessScheduler.start(
      heartbeat: .milliseconds(200), store: store, missedBeats: 12, clusterPort: clusterPort,
      apiPort: apiPort)
    defer { Task { await second.stop() } }
    for port in 20000...20099 { prober.set(port: port, failure: nil) }
    let (status, output) = try await deploying.value
    #expect(status == 0, "\(output)")
    #expect(output.contains("was accepted, waiting for the scheduler"), "\(output)")
    #expect(output.contains("ready: 2/2 healthy"), "\(output)")
  }
}
