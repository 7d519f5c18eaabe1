import Foundation
import Lifecycle
import OperatorAPI
import RouteTable
import SchedModel
import Testing

@Suite("Lifecycle: retire and the route table")
struct RetireTests {
  @Test("retire takes the old set out of the table, drains it, then frees it and answers")
  func retire() throws {
    var world = World()
    world.deployed()
    world.run(.routerEpoch(1))
    let started = world.run(.retire(app: "web", drainTimeoutMillis: 500, actor: "op"))
    #expect(started.contains(.drain(app: "web", color: .green, timeoutMillis: 500)))
    let table = try #require(started.published.last)
    #expect(table.apps.first?.candidate == nil, "the retiring set is out of the table")
    #expect(world.core.state(of: "web").phase != .idle)
    // A second operation meanwhile is refused.
    #expect(world.run(world.ask(force: true)).refusal?.message.contains("a retire of web") == true)
    let drained = world.run(.drained(app: "web", left: ["r2": 3], millis: 500))
    guard case .retired(let response)? = drained.reply else {
      Issue.record("no answer in \(drained)")
      return
    }
    #expect(response.color == .green && response.inFlightLeft == ["r2": 3])
    #expect(drained.eventKinds == ["app.retired"])
    #expect(world.core.desired.sets[SetKey(app: "web", color: .green)] == nil)
    #expect(world.core.state(of: "web").phase == .idle)
  }

  @Test("retire refuses an app with nothing to retire")
  func nothingToRetire() {
    var world = World()
    world.run(.apply(World.spec(), actor: "op"))
    #expect(
      world.run(.retire(app: "web", drainTimeoutMillis: nil, actor: "op")).refusal?.message
        == "web has no live set; there is nothing to retire")
    world.run(.deploy(app: "web", image: nil, actor: "op", deployment: "d1"))
    #expect(
      world.run(.retire(app: "web", drainTimeoutMillis: nil, actor: "op")).refusal
        == LifecycleError(.notFound, "web has only its live blue set; nothing to retire"))
  }

  @Test("a table is published when it changes, never twice the same, at growing epochs")
  func publishOnChange() throws {
    var world = World()
    world.deployed(green: false)
    let first = try #require(
      world.run(.observed).published.last ?? world.core.published as RouteTable?)
    #expect(first.epoch > 0)
    #expect(world.run(.observed).published.isEmpty, "nothing changed")
    let slot = world.core.desired.allocations(of: SetKey(app: "web", color: .blue))[0].slot
    world.reports[slot]?.status.health = .unhealthy
    let next = try #require(world.run(.observed).published.first)
    #expect(next.epoch > first.epoch)
    #expect(next.apps.first?.live?.upstreams.count == 1)
  }

  @Test("while a switch round is open nothing is published; the change goes out after it")
  func heldDuringRound() throws {
    var world = World()
    world.deployed()
    world.verified()
    _ = try #require(world.run(world.ask()).plan)
    let slot = world.core.desired.allocations(of: SetKey(app: "web", color: .blue))[0].slot
    world.reports[slot]?.status.health = .unhealthy
    #expect(world.run(.observed).published.isEmpty)
    #expect(world.core.publishPending)
    let ended = world.run(.roundEnded(app: "web", .aborted(reason: "timeout", recorded: false)))
    #expect(ended.published.count == 1)
    #expect(!world.core.publishPending)
  }

  @Test("after a restart nothing is published until every node with slots has reported")
  func heldAfterRestart() {
    var world = World()
    world.deployed(green: false)
    let restarted = world.core.desired
    world.core = Lifecycle(desired: restarted)
    let nodes = Set(world.core.desired.allocations.values.map(\.node))
    world.reported = []
    #expect(world.run(.observed).published.isEmpty)
    world.reported = nodes
    #expect(world.run(.observed).published.count == 1)
  }

  @Test("a router serving a newer epoch than ours is outranked")
  func routerAhead() {
    var world = World()
    world.deployed(green: false)
    world.run(.observed)
    let ours = world.core.published.epoch
    let ahead = world.run(.routerEpoch(ours + 10_000))
    #expect(ahead.published.first?.epoch == ours + 10_001)
    #expect(world.run(.routerEpoch(ours)).isEmpty)
  }
}
