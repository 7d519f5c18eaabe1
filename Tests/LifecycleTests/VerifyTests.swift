import Foundation
import Lifecycle
import SchedModel
import Testing

@Suite("Lifecycle: verify and the switch's gate")
struct VerifyTests {
  @Test("a verification starts on a ready candidate from its one digest, and holds the app")
  func starts() throws {
    var world = World()
    world.deployed()
    let actions = world.run(.verify(app: "web", actor: "op", id: "v1"))
    guard case .verification(let verification)? = actions.reply else {
      Issue.record("no answer in \(actions)")
      return
    }
    #expect(verification.digest == "sha256:b" && verification.color == .green)
    #expect(actions.eventKinds == ["app.verify_started"])
    let plan = try #require(
      actions.compactMap { if case .runVerification(let plan) = $0 { plan } else { nil } }.first)
    #expect(plan.slots.map(\.address).allSatisfy { $0.hasPrefix("10.0.0.") })
    let again = world.run(.verify(app: "web", actor: "op", id: "v2"))
    #expect(again.refusal?.message.contains("verification v1 of web is still running") == true)
    let deploy = world.run(.deploy(app: "web", image: nil, actor: "op", deployment: "d3"))
    #expect(deploy.refusal?.message.contains("locked by verification v1") == true)
  }

  @Test("a candidate whose slots run different images cannot be verified")
  func differentImages() {
    var world = World()
    world.deployed()
    let slot = world.core.desired.allocations(of: SetKey(app: "web", color: .green))[1].slot
    world.reports[slot]?.status.imageID = "sha256:c"
    let actions = world.run(.verify(app: "web", actor: "op", id: "v1"))
    #expect(actions.refusal?.message.contains("run different images") == true)
  }

  @Test("the gate: a stored pass opens it, a stored failure says why, a running one says so")
  func gate() throws {
    var world = World()
    world.deployed()
    #expect(world.core.storedVerificationsNeeded("web", world.observed) == "sha256:b")
    var stored = Verification(
      id: "v0", app: "web", color: .green, deployment: "d2", image: "web:2", digest: "sha256:b",
      actor: "op", startedAt: world.now)
    stored.state = .failed
    stored.summary = "test quick on node n1: exit code 1"
    func ask(_ stored: [Verification]) -> LifecycleEvent {
      .switchLive(
        SwitchAsk(
          app: "web", rollback: false, force: false, actor: "op", routers: ["r1"],
          stored: stored, acceptedAt: world.now))
    }
    let failed = world.run(ask([stored]))
    #expect(
      failed.refusal?.message.contains("its last verification (v0) failed: test quick") == true)
    stored.state = .running
    let interrupted = world.run(ask([stored]))
    #expect(interrupted.refusal?.message.contains("was interrupted") == true)
    stored.state = .passed
    #expect(world.run(ask([stored])).plan != nil)
  }

  @Test("a passed verification in this process needs no read; its end is recorded once")
  func endRecorded() {
    var world = World()
    world.deployed()
    world.run(.verify(app: "web", actor: "op", id: "v1"))
    var verification = world.core.state(of: "web").verification!
    verification.state = .passed
    let ended = world.run(.verificationChanged(verification))
    #expect(ended.eventKinds == ["app.verified"])
    #expect(world.core.storedVerificationsNeeded("web", world.observed) == nil)
    // A stale update of another run changes nothing.
    verification.id = "v0"
    #expect(world.run(.verificationChanged(verification)).isEmpty)
  }

  @Test("a test run holds its room: a second one goes elsewhere, a third finds none")
  func testReservations() {
    var world = World()
    let big = Resources(cpuMillis: 900, memoryBytes: 32 << 20)
    let first = world.run(.reserveTest(run: "a", demand: big, constraints: [:]))
    let second = world.run(.reserveTest(run: "b", demand: big, constraints: [:]))
    let third = world.run(.reserveTest(run: "c", demand: big, constraints: [:]))
    guard case .reserved(let one?)? = first.reply, case .reserved(let two?)? = second.reply else {
      Issue.record("\(first) \(second)")
      return
    }
    #expect(one != two)
    #expect(third.reply == .reserved(nil))
    world.run(.releaseTest(run: "a"))
    #expect(
      world.run(.reserveTest(run: "c", demand: big, constraints: [:])).reply == .reserved(one))
  }
}
