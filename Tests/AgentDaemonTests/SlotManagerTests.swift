import AgentCore
import AgentDaemon
import Logging
import OperatorAPI
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

/// The agent's slot manager on a fake runtime.
@Suite("Slot manager")
struct SlotManagerTests {
  /// A slot manager of node n1 on `runtime`, its health checks scripted, quiet logs.
  static func slots(on runtime: FakeRuntime, reconcileInterval: Duration) -> SlotManager {
    var logger = Logger(label: "test.slots")
    logger.logLevel = .critical
    return SlotManager(
      node: NodeID("n1"), runtime: runtime, prober: ScriptedProber(),
      permissions: NodePermissions(), publishAddress: "127.0.0.1",
      reconcileInterval: reconcileInterval, logger: logger)
  }

  @Test("after an assign the reconcile loop waits for its interval instead of spinning")
  func reconcileLoopDoesNotSpin() async throws {
    let runtime = FakeRuntime()
    let slots = Self.slots(on: runtime, reconcileInterval: .seconds(5))
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

  @Test("a refusal of one deployment is never reported for the next (14.6)")
  func oldRefusalIsNotReportedForANewDeployment() async throws {
    let runtime = FakeRuntime(images: ["web:2"])
    let slots = Self.slots(on: runtime, reconcileInterval: .milliseconds(100))
    let task = Task { try await slots.run() }
    defer { task.cancel() }
    func assignment(_ deployment: String, image: String) -> SlotAssignment {
      SlotAssignment(
        slot: SlotID(app: "web", color: .green, index: 0), deployment: deployment, image: image,
        resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20), hostPort: 20000,
        containerPort: 8080, health: HealthCheck(intervalMillis: 50, timeoutMillis: 50))
    }
    _ = await slots.execute(
      .assign(AssignSlots(slots: [assignment("d1", image: "does-not-exist")])))
    #expect(await eventually { await slots.slotStatuses().first?.health == .refused })
    _ = await slots.execute(.assign(AssignSlots(slots: [assignment("d2", image: "web:2")])))
    // Every report from now on is of d2, and none says d1's refusal.
    var seen: [SlotStatus] = []
    let deadline = ContinuousClock.now + .seconds(15)
    while ContinuousClock.now < deadline {
      let status = try #require(await slots.slotStatuses().first)
      seen.append(status)
      if status.health == .healthy { break }
      try await Task.sleep(for: .milliseconds(5))
    }
    #expect(seen.allSatisfy { $0.deployment == "d2" })
    #expect(seen.allSatisfy { $0.health != .refused }, "\(seen.map(\.message))")
    #expect(seen.last?.health == .healthy)
  }

  @Test(
    "a start that failed is moot once the engine runs the container itself (its restart policy)")
  func failedStartClearsWhenTheContainerRuns() async throws {
    let runtime = FakeRuntime(images: ["web:1"])
    // The engine is going away: every start fails.
    await runtime.failStarts(1000)
    let slots = Self.slots(on: runtime, reconcileInterval: .seconds(60))
    let task = Task { try await slots.run() }
    defer { task.cancel() }
    let assignment = SlotAssignment(
      slot: SlotID(app: "web", color: .blue, index: 0), deployment: "d1", image: "web:1",
      resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20), hostPort: 20000,
      containerPort: 8080, health: HealthCheck(intervalMillis: 50, timeoutMillis: 50))
    _ = await slots.execute(.assign(AssignSlots(slots: [assignment])))
    var first: SlotStatus?
    #expect(
      await eventually {
        first = await slots.slotStatuses().first
        return first?.health == .exited
      }, "\(String(describing: first))")
    // The engine comes back and starts the container by its restart policy: the agent has
    // nothing to start, and the slot must not stay "exited" (found in the soak: it did,
    // for good, and was never health-checked again).
    await runtime.failStarts(0)
    await runtime.restartStopped()
    _ = await slots.execute(.assign(AssignSlots(slots: [assignment])))
    var last: SlotStatus?
    #expect(
      await eventually(timeout: .seconds(5)) {
        last = await slots.slotStatuses().first
        return last?.health == .healthy
      }, "\(String(describing: last))")
  }
}
