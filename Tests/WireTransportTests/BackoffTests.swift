import ModelFixtures
import Testing
import WireTransport

@Suite("Backoff")
struct BackoffTests {
  @Test func growsWithJitterAndStaysUnderTheCap() {
    var backoff = Backoff(base: .milliseconds(200), cap: .seconds(5))
    var rng = SeededRNG(state: 7)
    var delays: [Duration] = []
    for _ in 0..<12 { delays.append(backoff.next(using: &rng)) }
    #expect(delays.allSatisfy { $0 >= .milliseconds(100) && $0 <= .seconds(5) })
    // The ceiling doubles: attempt 0 stays at most 200ms, later ones can reach seconds.
    #expect(delays[0] <= .milliseconds(200))
    #expect(delays.suffix(6).contains { $0 > .seconds(1) })
  }

  @Test func jitterSpreadsAgents() {
    var a = Backoff()
    var b = Backoff()
    var rngA = SeededRNG(state: 1)
    var rngB = SeededRNG(state: 2)
    let first = (0..<5).map { _ in a.next(using: &rngA) }
    let second = (0..<5).map { _ in b.next(using: &rngB) }
    #expect(first != second)
  }

  @Test func resetStartsOver() {
    var backoff = Backoff(base: .milliseconds(200), cap: .seconds(5))
    var rng = SeededRNG(state: 3)
    for _ in 0..<10 { _ = backoff.next(using: &rng) }
    backoff.reset()
    #expect(backoff.attempt == 0)
    #expect(backoff.next(using: &rng) <= .milliseconds(200))
  }
}
