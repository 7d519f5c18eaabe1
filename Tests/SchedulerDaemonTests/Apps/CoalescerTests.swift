import Testing

@testable import SchedulerDaemon

@Suite("Coalescer: calls made during a pass share the next one")
struct CoalescerTests {
  /// Counts the job's runs; a run started while the gate is shut waits for it.
  actor Tally {
    var started = 0
    var finished = 0
    var open = false
    private var held: [CheckedContinuation<Void, Never>] = []

    func job() async {
      started += 1
      if !open { await withCheckedContinuation { held.append($0) } }
      finished += 1
    }

    func openGate() {
      open = true
      for waiter in held { waiter.resume() }
      held = []
    }
  }

  @Test(
    "twenty calls during a run cost one more run, and each returns after a run that began later")
  func burst() async throws {
    let coalescer = Coalescer()
    let tally = Tally()
    let first = Task { await coalescer.run { await tally.job() } }
    try await waitUntil { await tally.started == 1 }
    let callers = (0..<20).map { _ in
      Task { () -> Int in
        await coalescer.run { await tally.job() }
        return await tally.finished
      }
    }
    try await waitUntil { await coalescer.waitingCount == 20 }
    #expect(await tally.started == 1, "no second run while the first is under way")
    await tally.openGate()
    await first.value
    for caller in callers {
      #expect(await caller.value == 2, "returned after the run that followed its call")
    }
    #expect(await coalescer.runs == 2)
    #expect(await tally.started == 2)
    await coalescer.run { await tally.job() }
    #expect(await coalescer.runs == 3, "a call with nothing running runs at once")
  }

  private func waitUntil(_ condition: () async -> Bool) async throws {
    for _ in 0..<500 {
      if await condition() { return }
      try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition not reached in 5 s")
  }
}
