import Synchronization
import Testing

@testable import WireTransport

/// The listener's connection tasks: cancelled together, waited for together.
@Suite("Serving tasks: cancel all, wait for all", .timeLimit(.minutes(1)))
struct ServingTasksTests {
  @Test("waiting returns only once every task ended; a cancel reaches each, and any started after")
  func cancelAndWait() async throws {
    let tasks = ServingTasks()
    let ended = Atomic<Int>(0)
    for _ in 0..<3 {
      tasks.start {
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
        ended.add(1, ordering: .relaxed)
      }
    }
    // A waiter that must not return while the three run.
    let waiter = Task { await tasks.waitForAll() }
    try await Task.sleep(for: .milliseconds(50))
    let before = ended.load(ordering: .relaxed)
    #expect(tasks.count == 3)
    #expect(before == 0)
    tasks.cancelAll()
    await waiter.value
    let after = ended.load(ordering: .relaxed)
    #expect(after == 3)
    #expect(tasks.count == 0)
    let late = Atomic<Bool>(false)
    tasks.start { late.store(Task.isCancelled, ordering: .relaxed) }
    await tasks.waitForAll()
    let lateWasCancelled = late.load(ordering: .relaxed)
    #expect(lateWasCancelled)
  }

  @Test("10,000 tasks that end on their own are all waited for, and none is left listed")
  func manyEnd() async {
    let tasks = ServingTasks()
    for _ in 0..<10_000 { tasks.start { await Task.yield() } }
    await tasks.waitForAll()
    #expect(tasks.count == 0)
  }
}
