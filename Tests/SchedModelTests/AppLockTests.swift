import Foundation
import SchedModel
import Testing

/// The lock's rule, as a table.
@Suite("App lock")
struct AppLockTests {
  static let since = Date(timeIntervalSince1970: 1_800_000_000)

  @Test(
    arguments: [
      (AppLock.Progress.running(healthy: 1, total: 4), 10.0, true),
      (.running(healthy: 1, total: 4), AppLock.deployLimit + 1, false),
      (.settled, 1, false),
      (.gone, 1, false),
    ] as [(AppLock.Progress, TimeInterval, Bool)])
  func deployLock(progress: AppLock.Progress, after: TimeInterval, holds: Bool) {
    let lock = AppLock(
      .deploy(deployment: "d1", color: .green), holder: "operator:ann", since: Self.since)
    #expect(lock.holds(progress, now: Self.since + after) == holds)
  }

  @Test func verifyLockHoldsWhileRunningAndSaysWho() {
    let lock = AppLock(.verify(id: "v7"), holder: "operator:bo", since: Self.since)
    #expect(lock.holds(.running(healthy: 0, total: 0), now: Self.since + 86400))
    #expect(!lock.holds(.settled, now: Self.since))
    #expect(
      lock.refusal(
        app: "web", asked: "deploy", progress: .running(healthy: 0, total: 0), now: Self.since + 42)
        == "deploy refused: web is locked by verification v7 by operator:bo, since 08:00:00 UTC, 42s ago. Wait for it to end: schedctl verify web --show"
    )
  }
}
