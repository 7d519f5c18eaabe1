import AgentCore
import AgentDaemon
import Logging
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

/// The agent's slot manager on a fake runtime.
@Suite("Slot manager")
struct SlotManagerTests {
  @Test("after an assign the reconcile loop waits for its interval instead of spinning")
  func reconcileLoopDoesNotSpin() async throws {
    let runtime = FakeRuntime()
    var logger = Logger(label: "test.slots")
    logger.logLevel = .warning
    let slots = SlotManager(
      node: NodeID("n1"), runtime: runtime, prober: ScriptedProber(),
      permissions: NodePermissions(), publishAddress: "127.0.0.1",
      reconcileInterval: .seconds(5), logger: logger)
    let task = Task { try await slots.run() }
    defer { task.cancel() }
    // Each assign wakes one pass early; the interval's tick it cut short must not wake another.
    for _ in 0..<3 {
      _ = await slots.execute(.assign(AssignSlots(slots: [])))
      try await Task.sleep(for: .milliseconds(100))
    }
    try await Task.sleep(for: .milliseconds(400))
    // The start lists once and every pass once: 1 + 1 + 3 assigns. A spinning loop lists
    // thousands of times in these 700 ms.
    let calls = await runtime.listCalls
    #expect(calls <= 6, "reconcile listed containers \(calls) times in 0.7 s")
  }
}
