import Foundation
import Lifecycle
import OperatorAPI
import RouteTable
import SchedModel
import Testing

@Suite("Lifecycle: switch and rollback")
struct SwitchTests {
  @Test("a verified, healthy candidate is planned with a newer epoch; the commit makes it live")
  func switchCommits() throws {
    var world = World()
    world.deployed()
    world.verified()
    let asked = world.run(world.ask())
    let plan = try #require(asked.plan)
    #expect(plan.to.color == .green)
    #expect(plan.table.apps.first?.live?.color == .green)
    #expect(plan.epoch > world.core.published.epoch)
    #expect(world.core.desired.apps["web"]?.live == .blue, "nothing changes before the round")
    let ended = world.run(
      .roundEnded(
        app: "web",
        .committed(routers: ["r1", "r2"], lagging: [], prepareMillis: 1, commitMillis: 1)))
    guard case .switched(let response)? = ended.reply else {
      Issue.record("no answer in \(ended)")
      return
    }
    #expect(response.from == .blue && response.to == .green && response.epoch == plan.epoch)
    #expect(world.core.desired.apps["web"]?.live == .green)
    #expect(world.core.published == plan.table)
    #expect(world.core.state(of: "web").phase == .idle)
  }

  @Test(
    "refusals: each names what is wrong and what to do, and plans nothing",
    arguments: [
      Refusal.noCandidate, .notReady, .unverified, .rollbackToNewer, .noRouter,
    ])
  func refusals(_ refusal: Refusal) {
    var world = World()
    switch refusal {
    case .noCandidate: world.deployed(green: false)
    case .notReady:
      world.deployed()
      world.report(SetKey(app: "web", color: .green), .starting)
    case .unverified, .rollbackToNewer: world.deployed()
    case .noRouter:
      world.deployed()
      world.verified()
      world.routers = []
    }
    let actions = world.run(world.ask(rollback: refusal == .rollbackToNewer))
    #expect(actions.plan == nil)
    #expect(actions.refusal?.code == refusal.code, "\(actions)")
    #expect(actions.refusal?.message.contains(refusal.words) == true, "\(actions)")
    #expect(world.core.desired.apps["web"]?.live == .blue)
    #expect(world.core.state(of: "web").phase == .idle)
  }

  enum Refusal: CaseIterable, Sendable {
    case noCandidate, notReady, unverified, rollbackToNewer, noRouter

    var code: LifecycleError.Code {
      self == .noRouter ? .unavailable : .conflict
    }

    var words: String {
      switch self {
      case .noCandidate: "has no candidate set; deploy one first"
      case .notReady: "is not ready: slot 0 on n"
      case .unverified: "has no passing verification: deployment d2"
      case .rollbackToNewer: "is newer than the live one"
      case .noRouter: "no router is connected"
      }
    }
  }

  @Test("--force passes a failing gate and the commit logs what it passed")
  func forced() throws {
    var world = World()
    world.deployed()
    let plan = try #require(world.run(world.ask(force: true)).plan)
    #expect(plan.forcedPast?.contains("has not been verified") == true)
    let ended = world.run(
      .roundEnded(
        app: "web", .committed(routers: ["r1"], lagging: [], prepareMillis: 1, commitMillis: 1)))
    #expect(ended.eventKinds == ["app.switch_forced"])
  }

  @Test("an abort changes nothing; a record that landed is undone with the abort's event")
  func abortUndoes() throws {
    var world = World()
    world.deployed()
    world.verified()
    let plan = try #require(world.run(world.ask()).plan)
    let ended = world.run(
      .roundEnded(app: "web", .aborted(reason: "router r2 refused", recorded: true)))
    #expect(
      ended.refusal
        == LifecycleError(.unavailable, "switch aborted, nothing changed: router r2 refused"))
    guard case .restore(let app, let events)? = ended.writes.first else {
      Issue.record("no undo in \(ended)")
      return
    }
    #expect(app.live == .blue)
    #expect(events.map(\.kind) == ["app.switch_aborted"])
    #expect(world.core.desired.apps["web"]?.live == .blue)
    #expect(world.core.published != plan.table)
    // And the app can switch again.
    #expect(world.run(world.ask()).plan != nil)
  }

  @Test("a rollback goes back to the older set with one healthy slot, no verification needed")
  func rollback() throws {
    var world = World()
    world.deployed()
    world.verified()
    let plan = try #require(world.run(world.ask()).plan)
    world.run(
      .roundEnded(
        app: "web", .committed(routers: ["r1"], lagging: [], prepareMillis: 1, commitMillis: 1)))
    // Blue is now the previous set; one of its slots is down.
    let blue = world.core.desired.allocations(of: SetKey(app: "web", color: .blue))
    world.reports[blue[0].slot]?.status.health = .unhealthy
    let back = try #require(world.run(world.ask(rollback: true)).plan)
    #expect(back.to.color == .blue && back.rollback)
    #expect(back.epoch > plan.epoch)
    guard case .live(_, .blue, _, let events) = back.record else {
      Issue.record("the record of \(back)")
      return
    }
    #expect(events.map(\.kind) == ["app.rolled_back"])
  }

  @Test("one round at a time: a switch of another app waits for the first")
  func oneRoundAtATime() throws {
    var world = World()
    world.deployed()
    world.deployed(World.spec("api"))
    _ = try #require(world.run(world.ask(force: true)).plan)
    let second = world.run(world.ask("api", force: true))
    #expect(second.refusal?.message == "another switch is in progress; try again in a moment")
    #expect(second.eventKinds == ["app.switch_aborted"])
    #expect(world.core.state(of: "api").phase == .idle)
  }

  @Test("events that do not fit the phase change nothing")
  func illegalEvents() {
    var world = World()
    world.deployed()
    let before = world.core.desired
    let ended = world.run(
      .roundEnded(
        app: "web", .committed(routers: [], lagging: [], prepareMillis: 0, commitMillis: 0)))
    #expect(ended.isEmpty)
    #expect(world.run(.drained(app: "web", left: [:], millis: 1)).isEmpty)
    #expect(world.run(.roundEnded(app: "nope", .aborted(reason: "x", recorded: false))).isEmpty)
    #expect(world.core.desired == before)
  }

  @Test("keep_warm retires the old set after a switch, unless a rollback came first")
  func keepWarm() throws {
    var world = World()
    world.deployed(World.spec(keepWarmMillis: 5000))
    world.verified()
    let plan = try #require(world.run(world.ask()).plan)
    let ended = world.run(
      .roundEnded(
        app: "web", .committed(routers: ["r1"], lagging: [], prepareMillis: 1, commitMillis: 1)))
    let timer = LifecycleTimer.keepWarm(app: "web", deployment: plan.to.deployment)
    #expect(ended.contains(.schedule(timer, afterMillis: 5000)))
    // The timer fires: the old (blue) set drains.
    let fired = world.run(.timerFired(timer))
    #expect(fired.contains(.drain(app: "web", color: .blue, timeoutMillis: 30_000)))
    // A timer of a deployment no longer live does nothing.
    var other = World()
    other.deployed(World.spec(keepWarmMillis: 5000))
    #expect(other.run(.timerFired(.keepWarm(app: "web", deployment: "d2"))).isEmpty)
  }
}
