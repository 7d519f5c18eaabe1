import ACME
import Foundation
import Testing

@Suite("When names are renewed")
struct RenewalPlanTests {
  let plan = RenewalPlan(retryBase: 60, retryCap: 3600)
  let t0 = Date(timeIntervalSince1970: 1_000_000)

  @Test(
    "due times",
    arguments: [
      // No certificate: at once.
      (RenewalPlan.Name(name: "a"), Date.distantPast),
      // 90-day certificate: at day 60.
      (
        RenewalPlan.Name(
          name: "a", notBefore: Date(timeIntervalSince1970: 1_000_000),
          notAfter: Date(timeIntervalSince1970: 1_000_000 + 90 * 86400)),
        Date(timeIntervalSince1970: 1_000_000 + 60 * 86400)
      ),
      // Forced: at once, whatever the certificate.
      (
        RenewalPlan.Name(
          name: "a", notBefore: Date(timeIntervalSince1970: 1_000_000),
          notAfter: Date(timeIntervalSince1970: 1_000_000 + 90 * 86400), forced: true),
        Date.distantPast
      ),
      // Failures: 60 s, 120 s, 240 s after the last one ...
      (
        RenewalPlan.Name(
          name: "a", failures: 1, lastFailure: Date(timeIntervalSince1970: 1_000_000)),
        Date(timeIntervalSince1970: 1_000_060)
      ),
      (
        RenewalPlan.Name(
          name: "a", failures: 3, lastFailure: Date(timeIntervalSince1970: 1_000_000)),
        Date(timeIntervalSince1970: 1_000_240)
      ),
      // ... capped.
      (
        RenewalPlan.Name(
          name: "a", failures: 40, lastFailure: Date(timeIntervalSince1970: 1_000_000)),
        Date(timeIntervalSince1970: 1_003_600)
      ),
    ])
  func due(name: RenewalPlan.Name, expected: Date) {
    #expect(plan.due(name) == expected)
  }

  @Test("next: the names due now, oldest first, and when to wake for the rest")
  func next() {
    let names = [
      RenewalPlan.Name(name: "fresh", notBefore: t0, notAfter: t0.addingTimeInterval(300)),
      RenewalPlan.Name(name: "new"),
      RenewalPlan.Name(
        name: "old", notBefore: t0.addingTimeInterval(-3000), notAfter: t0.addingTimeInterval(30)),
      RenewalPlan.Name(name: "failing", failures: 2, lastFailure: t0.addingTimeInterval(-10)),
    ]
    let next = plan.next(names, now: t0)
    #expect(next.due == ["new", "old"])
    #expect(next.wakeAt == t0.addingTimeInterval(110))
    #expect(plan.next([], now: t0).wakeAt == nil)
  }
}
