import Foundation
import Lifecycle
import OperatorAPI
import SchedModel
import Testing

@Suite("Move: a copy of the live set where a rebalance puts it")
struct MoveTests {
  func placedNodes(_ actions: [LifecycleAction]) -> [String] {
    guard case .deployed(let response)? = actions.reply else { return [] }
    return response.placed.map(\.node.rawValue)
  }

  @Test(
    "the copy goes on the nodes given, with the live deployment; the switch to it needs no verification"
  )
  func copySwitchesWithoutVerification() {
    var world = World()
    world.deployed(green: false)
    let blue = world.core.desired.allocations(of: SetKey(app: "web", color: .blue)).map(\.node)
    let other: NodeID = blue[0] == "n1" ? "n2" : "n1"
    let moved = world.run(.move(app: "web", nodes: [other, other], avoiding: [], actor: "op"))
    #expect(moved.refusal == nil, "\(String(describing: moved.refusal))")
    #expect(placedNodes(moved) == [other.rawValue, other.rawValue])
    let copy = world.core.desired.sets[SetKey(app: "web", color: .green)]
    #expect(copy?.deployment == "d1" && copy?.image == "web:1")
    #expect(moved.eventKinds == ["set.deployed"])
    // The copy runs what the live set runs: switched to at once.
    world.report(SetKey(app: "web", color: .green))
    let switched = world.run(world.ask())
    #expect(
      switched.refusal == nil && switched.plan != nil, "\(String(describing: switched.refusal))")
  }

  @Test("a copy whose slots run another build than the live ones is gated like any candidate")
  func otherDigestIsGated() {
    var world = World()
    world.deployed(green: false)
    world.run(.move(app: "web", nodes: nil, avoiding: [], actor: "op"))
    world.report(SetKey(app: "web", color: .green), image: "sha256:other")
    let refused = world.run(world.ask())
    #expect(refused.refusal?.message.contains("has no passing verification") == true)
  }

  @Test("no room on the node given: refused, naming it and what is short; nothing placed")
  func noRoomWhereAsked() {
    var world = World()
    world.deployed(World.spec(slots: 2, cpu: 600), green: false)
    let refused = world.run(.move(app: "web", nodes: ["n2", "n2"], avoiding: [], actor: "op"))
    let message = refused.refusal?.message ?? ""
    #expect(
      message.contains("does not fit where asked") && message.contains("node n2"), "\(message)")
    #expect(world.core.desired.sets[SetKey(app: "web", color: .green)] == nil)
  }

  @Test("avoiding keeps the copy off those nodes; a candidate set is never replaced")
  func avoidingAndCandidate() {
    var world = World()
    world.deployed(green: false)
    let moved = world.run(.move(app: "web", nodes: nil, avoiding: ["n1"], actor: "op"))
    #expect(placedNodes(moved) == ["n2", "n2"])
    var candidate = World()
    candidate.deployed(green: true)
    let refused = candidate.run(.move(app: "web", nodes: nil, avoiding: [], actor: "op"))
    #expect(refused.refusal?.message.contains("has a candidate set") == true)
  }
}
