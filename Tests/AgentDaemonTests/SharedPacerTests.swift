import AgentDaemon
import Synchronization
import Testing

/// The simulator's agents wait between heartbeats on one `SharedPacer`: each wait must last at
/// least what was asked, end soon after, and end at once when its task is cancelled.
@Suite("SharedPacer", .timeLimit(.minutes(1)))
struct SharedPacerTests {
  @Test("500 waits of 20 to 120 ms each return no sooner than asked and within a few ticks")
  func waitsLastWhatWasAsked() async throws {
    let pacer = SharedPacer(tick: .milliseconds(5))
    defer { pacer.stop() }
    let waits = await withTaskGroup(of: (asked: Duration, took: Duration).self) { group in
      for number in 0..<500 {
        let asked = Duration.milliseconds(20 + number % 101)
        group.addTask {
          let clock = ContinuousClock()
          let start = clock.now
          try? await pacer.pause(for: asked)
          return (asked, clock.now - start)
        }
      }
      var all: [(asked: Duration, took: Duration)] = []
      for await wait in group { all.append(wait) }
      return all
    }
    #expect(waits.count == 500)
    let early = waits.filter { $0.took < $0.asked }
    #expect(early.isEmpty, "returned before their time: \(early.prefix(5))")
    // A loaded test machine can be late by much more than a tick; a wait that never ended
    // would hit the time limit instead.
    let late = waits.filter { $0.took > $0.asked + .seconds(2) }
    #expect(late.isEmpty, "returned more than 2 s late: \(late.prefix(5))")
  }

  @Test("a wait of zero or less returns at once, without a tick")
  func zeroWait() async throws {
    let pacer = SharedPacer(tick: .seconds(30))
    defer { pacer.stop() }
    let clock = ContinuousClock()
    let start = clock.now
    try await pacer.pause(for: .zero)
    try await pacer.pause(for: .milliseconds(-5))
    let took = clock.now - start
    #expect(took < .seconds(5))
  }

  @Test("a cancelled wait throws CancellationError at once, and the others still end")
  func cancelled() async throws {
    let pacer = SharedPacer(tick: .milliseconds(5))
    defer { pacer.stop() }
    let long = Task { try await pacer.pause(for: .seconds(60)) }
    let short = Task { try await pacer.pause(for: .milliseconds(30)) }
    try await Task.sleep(for: .milliseconds(20))
    long.cancel()
    let outcome = await long.result
    #expect(throws: CancellationError.self) { try outcome.get() }
    try await short.value
    // Cancelled before it began: it never waits.
    let early = Task {
      withUnsafeCurrentTask { $0?.cancel() }
      try await pacer.pause(for: .seconds(60))
    }
    let earlyOutcome = await early.result
    #expect(throws: CancellationError.self) { try earlyOutcome.get() }
  }

  @Test("stop() fails the waits under way and every later one")
  func stopped() async throws {
    let pacer = SharedPacer(tick: .milliseconds(5))
    let waiting = Task { try await pacer.pause(for: .seconds(60)) }
    try await Task.sleep(for: .milliseconds(20))
    pacer.stop()
    let outcome = await waiting.result
    #expect(throws: CancellationError.self) { try outcome.get() }
    await #expect(throws: CancellationError.self) { try await pacer.pause(for: .milliseconds(1)) }
  }

  @Test("SleepPacer waits what was asked")
  func sleepPacer() async throws {
    let clock = ContinuousClock()
    let start = clock.now
    try await SleepPacer().pause(for: .milliseconds(30))
    #expect(clock.now - start >= .milliseconds(30))
  }
}
