import Foundation
import Lifecycle
import OperatorAPI
import RouteTable
import SchedModel
import Testing

@Suite("Lifecycle: re-placement of a down node's slots, and the brake")
struct ReplaceTests {
  /// Three nodes; web deployed blue (live) and green, every slot healthy.
  static func world(
    maxPerNode: Int? = nil, nodes: [String] = ["n1", "n2", "n3"], returnGrace: Duration = .zero
  ) -> World {
    var world = World()
    world.core = Lifecycle(desired: Desired(), returnGrace: returnGrace)
    world.nodes = nodes.map(World.node)
    var spec = World.spec()
    spec.maxPerNode = maxPerNode
    world.deployed(spec)
    return world
  }

  static func down(_ world: inout World, _ id: NodeID) {
    guard let index = world.nodes.firstIndex(where: { $0.id == id }) else { return }
    world.nodes[index].state = .down
  }

  static func events(_ actions: [LifecycleAction]) -> [ClusterEvent] {
    actions.writes.flatMap { write -> [ClusterEvent] in
      switch write {
      case .set(_, _, _, _, let events), .events(let events): events
      default: []
      }
    }
  }

  @Test("a down node's slots of the live and the candidate set move to ready nodes, an event each")
  func replacesBothSets() throws {
    var world = Self.world()
    let before = world.core.desired.allocationList
    let home = try #require(before.first?.node)
    #expect(before.allSatisfy { $0.node == home }, "best fit packs the four slots on one node")
    Self.down(&world, home)
    let actions = world.run(.observed)
    let after = world.core.desired.allocationList
    #expect(after.count == 4)
    #expect(after.allSatisfy { $0.node != home })
    #expect(Set(after.map(\.slot)) == Set(before.map(\.slot)), "the same slots, elsewhere")
    let moved = Self.events(actions).filter { $0.kind == "slot.replaced" }
    #expect(moved.count == 4)
    #expect(moved.allSatisfy { $0.detail.hasPrefix("from \(home) to ") })
    #expect(moved.allSatisfy { $0.detail.contains("node \(home) is down") })
    // One write per set, each telling the nodes slots left and went to.
    #expect(actions.writes.count == 2)
    let told = actions.compactMap { if case .assign(let nodes) = $0 { nodes } else { nil } }
    #expect(told.count == 2)
    #expect(told.allSatisfy { $0.contains(home) && $0.count >= 2 })
    #expect(world.core.state(of: "web").phase == .idle)
    // Ports are the new nodes' own and never clash.
    let ports = after.map { "\($0.node):\($0.hostPort)" }
    #expect(Set(ports).count == ports.count)
    // Nothing more to do on the next pass.
    #expect(world.run(.observed).writes.isEmpty)
  }

  @Test("a re-placed slot is routed from its new node only, never from the stale copy")
  func routesFollowTheMove() throws {
    var world = Self.world()
    let home = try #require(world.core.desired.allocationList.first?.node)
    Self.down(&world, home)
    world.run(.observed)
    let blue = SetKey(app: "web", color: .blue)
    // The old node comes back still running its copies, which it reports healthy.
    let index = try #require(world.nodes.firstIndex { $0.id == home })
    world.nodes[index].state = .ready
    for allocation in world.core.desired.allocations(of: blue) {
      world.reports[allocation.slot] = (
        home, SlotStatus(slot: allocation.slot, deployment: "d1", health: .healthy)
      )
    }
    world.run(.observed)
    #expect(world.core.published.apps.first?.live?.upstreams.isEmpty == true)
    // The new copies report healthy too: only they are routed.
    for allocation in world.core.desired.allocations(of: blue) {
      world.reports[allocation.slot] = (
        allocation.node, SlotStatus(slot: allocation.slot, deployment: "d1", health: .healthy)
      )
    }
    world.run(.observed)
    let upstreams = try #require(world.core.published.apps.first?.live?.upstreams)
    #expect(upstreams.count == 2)
    let addresses = Set(world.nodes.filter { $0.id != home }.map(\.spec.address))
    #expect(upstreams.allSatisfy { addresses.contains($0.address) })
  }

  @Test("nothing moves while the scheduler's start grace runs, nor while a node is only silent")
  func noMoveBeforeDown() throws {
    var world = Self.world()
    let home = try #require(world.core.desired.allocationList.first?.node)
    world.reported = []
    Self.down(&world, home)
    #expect(world.run(.observed).writes.isEmpty, "nodes may still be dialing in")
    world.reported = nil
    let index = try #require(world.nodes.firstIndex { $0.id == home })
    world.nodes[index].state = .ready
    world.advance(seconds: 2)
    #expect(world.run(.observed).writes.isEmpty, "a ready node keeps its slots")
  }

  @Test("a slot that fits nowhere is missing with the reason, once, and placed when room appears")
  func missingThenPlaced() throws {
    var world = Self.world(maxPerNode: 1, nodes: ["n1", "n2"])
    let blue = SetKey(app: "web", color: .blue)
    let lost = try #require(world.core.desired.allocations(of: blue).first)
    Self.down(&world, lost.node)
    let actions = world.run(.observed)
    let missing = Self.events(actions).filter { $0.kind == "slot.missing" }
    // Each set has one slot per node: the other node already holds one of each set.
    #expect(missing.count == 2)
    #expect(missing.allSatisfy { $0.detail.contains("fits nowhere") })
    let status = world.core.replacementStatus(world.observed)
    #expect(status.missing.count == 2 && !status.braked)
    let view = try #require(
      world.core.status("web", world.observed, traffic: [], epoch: 0).get().sets.first?.slots
        .first { $0.node == lost.node })
    #expect(view.message?.contains("missing, fits nowhere") == true)
    #expect(world.run(.observed).writes.isEmpty, "said once, not every pass")
    world.nodes.append(World.node("n3"))
    let placed = world.run(.observed)
    #expect(Self.events(placed).filter { $0.kind == "slot.replaced" }.count == 2)
    #expect(world.core.desired.allocationList.filter { $0.node == "n3" }.count == 2)
    #expect(world.core.replacementStatus(world.observed).missing.isEmpty)
  }

  @Test("labels the app requires hold for the new home")
  func labelsHold() throws {
    var world = World()
    world.nodes = ["n1", "n2", "n3"].map(World.node)
    world.nodes[0].spec.labels = ["disk": "ssd"]
    world.nodes[1].spec.labels = ["disk": "ssd"]
    var spec = World.spec()
    spec.constraints = ["disk": "ssd"]
    spec.maxPerNode = 1
    world.deployed(spec, green: false)
    let first = try #require(world.core.desired.allocationList.first)
    Self.down(&world, first.node)
    world.run(.observed)
    #expect(world.core.desired.allocationList.allSatisfy { $0.node != "n3" })
    #expect(world.core.replacementStatus(world.observed).missing.map(\.slot) == [first.slot])
  }

  @Test("more than half of the nodes down: nothing moves, an event says so, nodes back resume it")
  func brake() throws {
    var world = Self.world()
    let before = world.core.desired.allocationList
    let home = try #require(before.first?.node)
    let other = try #require(world.nodes.map(\.id).first { $0 != home })
    Self.down(&world, home)
    Self.down(&world, other)
    let braked = world.run(.observed)
    #expect(Self.events(braked).map(\.kind) == ["replacement.braked"])
    #expect(world.core.desired.allocationList == before)
    let status = world.core.replacementStatus(world.observed)
    #expect(status.braked && status.reason?.contains("2 of 3 nodes are down") == true)
    #expect(status.missing.count == 4)
    let app = try world.core.status("web", world.observed, traffic: [], epoch: 0).get()
    #expect(app.replacement?.braked == true)
    #expect(world.run(.observed).writes.isEmpty, "braked once")
    // One node returns: 1 of 3 down, the brake lets go and the slots move.
    let index = try #require(world.nodes.firstIndex { $0.id == other })
    world.nodes[index].state = .ready
    let resumed = world.run(.observed)
    #expect(Self.events(resumed).first?.kind == "replacement.resumed")
    #expect(Self.events(resumed).filter { $0.kind == "slot.replaced" }.count == 4)
    #expect(world.core.desired.allocationList.allSatisfy { $0.node != home })
    #expect(world.core.replacementStatus(world.observed).isQuiet)
  }

  @Test(
    "nodes cut at one moment cross the TTL a beat apart: the first down with the others silent brakes"
  )
  func silentNodesCount() throws {
    var world = Self.world(returnGrace: .seconds(10))
    let before = world.core.desired.allocationList
    let home = try #require(before.first?.node)
    let other = try #require(world.nodes.map(\.id).first { $0 != home })
    Self.down(&world, home)
    world.silent = [other]
    let braked = world.run(.observed)
    #expect(Self.events(braked).map(\.kind) == ["replacement.braked"])
    #expect(world.core.desired.allocationList == before)
    let reason = world.core.replacementStatus(world.observed).reason
    #expect(
      reason?.contains("2 of 3 nodes are down or going down (") == true,
      "\(String(describing: reason))")
    // The silent one beats again (it was never down): one host is down, and its slots move
    // at once, with no return grace.
    world.silent = []
    let resumed = world.run(.observed)
    #expect(Self.events(resumed).first?.kind == "replacement.resumed")
    #expect(Self.events(resumed).first?.detail.hasSuffix("re-placing again") == true)
    #expect(Self.events(resumed).filter { $0.kind == "slot.replaced" }.count == 4)
    // A silent node beside a down one of four is not more than half: nothing holds.
    var alone = Self.world(nodes: ["n1", "n2", "n3", "n4"])
    let lone = try #require(alone.core.desired.allocationList.first?.node)
    Self.down(&alone, lone)
    alone.silent = [try #require(alone.nodes.map(\.id).first { $0 != lone })]
    let moved = alone.run(.observed)
    #expect(Self.events(moved).filter { $0.kind == "slot.replaced" }.count == 4)
  }

  @Test("nodes returning let the brake go; those still down get the return grace to dial in")
  func returnGrace() throws {
    var world = Self.world(maxPerNode: 1, returnGrace: .seconds(10))
    let before = world.core.desired.allocationList
    let holders = Array(Set(before.map(\.node))).sorted()
    #expect(holders.count == 2, "one slot of each set per node: \(before)")
    for node in holders { Self.down(&world, node) }
    #expect(Self.events(world.run(.observed)).map(\.kind) == ["replacement.braked"])
    // The first comes back; the second is still on its way (its agent's backoff).
    let first = try #require(world.nodes.firstIndex { $0.id == holders[0] })
    world.nodes[first].state = .ready
    let released = Self.events(world.run(.observed))
    #expect(released.map(\.kind) == ["replacement.resumed"])
    #expect(released.first?.detail.contains("move in 10s unless those return") == true)
    world.now += 9
    #expect(world.run(.observed).writes.isEmpty)
    #expect(world.core.desired.allocationList == before)
    let waiting = world.core.replacementStatus(world.observed).missing
    #expect(
      waiting.count == 2 && waiting.allSatisfy { $0.reason.contains("dial in") }, "\(waiting)")
    // It returns within the grace: nothing moved, nothing will.
    let second = try #require(world.nodes.firstIndex { $0.id == holders[1] })
    world.nodes[second].state = .ready
    #expect(world.run(.observed).writes.isEmpty)
    #expect(world.core.replacementStatus(world.observed).isQuiet)
    // Another round where the second never returns: its slots move once the grace is over.
    for node in holders { Self.down(&world, node) }
    world.run(.observed)
    world.nodes[first].state = .ready
    world.run(.observed)
    world.now += 10
    let moved = Self.events(world.run(.observed)).filter { $0.kind == "slot.replaced" }
    #expect(!moved.isEmpty)
    #expect(moved.allSatisfy { $0.detail.hasPrefix("from \(holders[1]) to ") }, "\(moved)")
  }

  @Test("the brake is about slots: nodes down with nothing on them engage nothing")
  func noBrakeWithoutSlots() {
    var world = World()
    world.nodes = [World.node("n1")]
    world.run(.apply(World.spec(), actor: "op"))
    Self.down(&world, "n1")
    #expect(world.run(.observed).writes.isEmpty)
    #expect(world.core.replacementStatus(world.observed).isQuiet)
  }

  @Test("an operator's word re-places while the brake holds")
  func operatorResumes() throws {
    var world = Self.world()
    let home = try #require(world.core.desired.allocationList.first?.node)
    let other = try #require(world.nodes.map(\.id).first { $0 != home })
    Self.down(&world, home)
    Self.down(&world, other)
    world.run(.observed)
    let actions = world.run(.resumeReplacement(actor: "op"))
    guard case .replacement(let status)? = actions.reply else {
      Issue.record("no answer in \(actions)")
      return
    }
    #expect(!status.braked && status.overriddenBy == "op")
    #expect(status.missing.isEmpty, "the answer tells the pass's outcome: \(status.missing)")
    let kinds = Self.events(actions).map(\.kind)
    #expect(kinds.first == "replacement.resumed")
    #expect(kinds.filter { $0 == "slot.replaced" }.count == 4)
    let survivor = try #require(world.nodes.map(\.id).first { $0 != home && $0 != other })
    #expect(world.core.desired.allocationList.allSatisfy { $0.node == survivor })
    // Still 2 of 3 down with nothing left on them: the brake and the operator's word stay (a
    // node going down next is moved too), and nothing is said again.
    #expect(world.run(.observed).writes.isEmpty)
    #expect(world.core.replacementStatus(world.observed).overriddenBy == "op")
  }

  @Test("a busy app is left until it is idle")
  func busyAppWaits() throws {
    var world = Self.world()
    world.verified()
    let home = try #require(world.core.desired.allocationList.first?.node)
    let switching = world.core.handle(world.ask(), world.observed)
    #expect(switching.plan != nil)
    Self.down(&world, home)
    #expect(world.run(.observed).writes.isEmpty)
    world.run(.roundEnded(app: "web", .aborted(reason: "test", recorded: false)))
    #expect(world.core.state(of: "web").phase == .idle)
    #expect(Self.events(world.run(.observed)).filter { $0.kind == "slot.replaced" }.count == 4)
  }
}
