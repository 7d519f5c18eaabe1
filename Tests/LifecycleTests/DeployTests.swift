import Foundation
import Lifecycle
import OperatorAPI
import SchedModel
import Testing

@Suite("Lifecycle: apply, deploy, stop")
struct DeployTests {
  @Test("the first deploy places blue, goes live at once, tells its nodes and answers")
  func firstDeploy() {
    var world = World()
    world.run(.apply(World.spec(), actor: "op"))
    let actions = world.run(.deploy(app: "web", image: nil, actor: "op", deployment: "d1"))
    guard case .deployed(let placed)? = actions.reply else {
      Issue.record("no deploy answer in \(actions)")
      return
    }
    #expect(placed.color == .blue)
    #expect(placed.placed.count == 2)
    #expect(world.core.desired.apps["web"]?.live == .blue)
    #expect(actions.eventKinds == ["set.deployed"])
    #expect(actions.contains(.assign(Set(placed.placed.map(\.node)))))
    #expect(world.core.state(of: "web").phase == .idle)
    #expect(world.core.state(of: "web").deployLock != nil)
  }

  @Test("a second deploy builds the color that is not live, and only once the first settled")
  func secondDeployWaitsForTheFirst() {
    var world = World()
    world.run(.apply(World.spec(), actor: "op"))
    world.run(.deploy(app: "web", image: nil, actor: "op", deployment: "d1"))
    // Blue is still starting: the deploy lock holds.
    let early = world.run(.deploy(app: "web", image: "web:2", actor: "op", deployment: "d2"))
    #expect(early.refusal?.code == .conflict)
    #expect(
      early.refusal?.message.contains("locked by the deploy of d1 (blue, 0/2 healthy)") == true)
    #expect(early.writes.isEmpty)
    world.report(SetKey(app: "web", color: .blue))
    let later = world.run(.deploy(app: "web", image: "web:2", actor: "op", deployment: "d2"))
    guard case .deployed(let placed)? = later.reply else {
      Issue.record("no deploy answer in \(later)")
      return
    }
    #expect(placed.color == .green)
    #expect(world.core.desired.apps["web"]?.live == .blue)
  }

  @Test(
    "refusals name the reason and change nothing",
    arguments: [
      ("nope", "web:1", "no app named 'nope'"),
      ("web", "Web:latest!", "image"),
    ])
  func refusals(app: String, image: String, words: String) {
    var world = World()
    world.run(.apply(World.spec(), actor: "op"))
    let before = world.core.desired
    let actions = world.run(.deploy(app: app, image: image, actor: "op", deployment: "d1"))
    #expect(actions.refusal?.message.contains(words) == true, "\(actions)")
    #expect(world.core.desired == before)
  }

  @Test("a set that does not fit places nothing and says why per slot")
  func doesNotFit() {
    var world = World()
    world.run(.apply(World.spec(slots: 3, cpu: 900), actor: "op"))
    let actions = world.run(.deploy(app: "web", image: nil, actor: "op", deployment: "d1"))
    #expect(actions.refusal?.code == .conflict)
    let message = actions.refusal?.message ?? ""
    #expect(message.contains("web does not fit (3 x 900m CPU"), "\(message)")
    #expect(message.contains("nothing was placed: ") && message.contains("slot 2: "), "\(message)")
    #expect(world.core.desired.allocations.isEmpty)
  }

  @Test("a failed write answers the store's reason and leaves the app idle and unchanged")
  func failedWrite() {
    var world = World()
    world.run(.apply(World.spec(), actor: "op"))
    let actions = world.run(
      .deploy(app: "web", image: nil, actor: "op", deployment: "d1"), failing: true)
    #expect(actions.refusal == LifecycleError(.failed, "state store: disk full"))
    #expect(world.core.desired.sets.isEmpty)
    #expect(world.core.state(of: "web").phase == .idle)
  }

  @Test("a deploy while another operation holds the app is refused with that operation named")
  func busy() {
    var world = World()
    world.deployed()
    world.verified()
    let switching = world.core.handle(world.ask(force: true), world.observed)
    #expect(switching.plan != nil)
    let actions = world.run(.deploy(app: "web", image: nil, actor: "op", deployment: "d3"))
    #expect(
      actions.refusal?.message
        == "a switch of web is already in progress; wait for it (schedctl status web)")
  }

  @Test("stop-set refuses the live set unless forced; forced, the app has no live color")
  func stopLive() {
    var world = World()
    world.deployed(green: false)
    let refused = world.run(.stopSet(app: "web", color: .blue, force: false, actor: "op"))
    #expect(refused.refusal?.message.contains("serves production") == true)
    #expect(refused.refusal?.message.contains("deploy a new set and switch to it") == true)
    let forced = world.run(.stopSet(app: "web", color: .blue, force: true, actor: "op"))
    #expect(forced.reply == .stopped)
    #expect(forced.eventKinds == ["set.stopped"])
    #expect(world.core.desired.apps["web"]?.live == nil)
    #expect(world.core.desired.allocations.isEmpty)
    let missing = world.run(.stopSet(app: "web", color: .green, force: false, actor: "op"))
    #expect(missing.refusal == LifecycleError(.notFound, "web has no green set"))
  }

  @Test("a spec asking for more than any node has is refused at apply")
  func applyChecksDemand() {
    var world = World()
    let actions = world.run(.apply(World.spec(cpu: 4000), actor: "op"))
    #expect(actions.refusal?.code == .invalid)
    #expect(world.core.desired.apps.isEmpty)
  }
}
