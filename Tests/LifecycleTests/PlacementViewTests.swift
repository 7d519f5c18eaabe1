import Foundation
import Placement
import SchedModel
import Testing

@testable import Lifecycle

@Suite("Lifecycle: placement's kept picture of the cluster")
struct PlacementViewTests {
  /// The picture the lifecycle keeps (its nodes read, as before every placement), against one
  /// made afresh from its decisions.
  static func agrees(_ world: World, _ note: Comment) {
    let fresh = PlacementCluster(world.core.placementNodes(world.observed))
    var kept = world.core.placement
    kept.sync(world.observed)
    #expect(kept.cluster.nodes() == fresh.nodes(), note)
    #expect(!fresh.nodes().isEmpty)
  }

  @Test(
    "deploys, test runs, a node down and its slots moved, a set stopped: the kept picture is the fresh one"
  )
  func followsEveryChange() {
    var world = World()
    world.nodes = ["n1", "n2", "n3"].map(World.node)
    Self.agrees(world, "empty")
    world.deployed()
    Self.agrees(world, "blue and green deployed")
    world.run(
      .reserveTest(
        run: "t1", demand: Resources(cpuMillis: 300, memoryBytes: 1 << 20), constraints: [:]))
    world.run(
      .reserveTest(
        run: "t2", demand: Resources(cpuMillis: 200, memoryBytes: 1 << 20), constraints: [:]))
    Self.agrees(world, "two test runs")
    world.run(.releaseTest(run: "t1"))
    Self.agrees(world, "one test run left")
    let home = world.core.desired.allocationList[0].node
    world.nodes[world.nodes.firstIndex { $0.id == home }!].state = .down
    world.run(.observed)
    #expect(world.core.desired.allocationList.allSatisfy { $0.node != home }, "slots moved")
    Self.agrees(world, "a node down, its slots moved")
    world.run(.stopSet(app: "web", color: .green, force: true, actor: "op"))
    Self.agrees(world, "green stopped")
    world.nodes.append(World.node("n4"))
    world.nodes.removeAll { $0.id == "n2" }
    world.run(.deploy(app: "web", image: "web:3", actor: "op", deployment: "d3"))
    Self.agrees(world, "a node gone, one new, deployed again")
  }

  @Test(
    "a deploy placed while another's write is being recorded takes other ports; a failed write lets go"
  )
  func pendingWritesHoldTheirRoom() throws {
    var world = World()
    world.nodes = [World.node("n1")]
    for name in ["a", "b", "c"] { world.run(.apply(World.spec(name, slots: 3), actor: "op")) }
    // The owner awaits the store between a placement and its record: b is placed meanwhile.
    let first = world.core.handle(
      .deploy(app: "a", image: nil, actor: "op", deployment: "d1"), world.observed)
    let second = world.core.handle(
      .deploy(app: "b", image: nil, actor: "op", deployment: "d2"), world.observed)
    func ports(_ actions: [LifecycleAction]) -> [Int] {
      actions.writes.flatMap { write -> [Int] in
        guard case .set(_, _, _, let allocations, _) = write else { return [] }
        return allocations.map(\.hostPort)
      }
    }
    #expect(ports(first).count == 3)
    #expect(Set(ports(first)).isDisjoint(with: ports(second)), "\(ports(first)) \(ports(second))")
    for write in (first + second).writes { _ = world.core.handle(.recorded(write), world.observed) }
    #expect(Set(world.core.desired.allocationList.map(\.hostPort)).count == 6)
    Self.agrees(world, "both recorded")
    let third = world.core.handle(
      .deploy(app: "c", image: nil, actor: "op", deployment: "d3"), world.observed)
    for write in third.writes {
      _ = world.core.handle(.recordFailed(write, reason: "disk full"), world.observed)
    }
    Self.agrees(world, "a failed write holds nothing")
  }

  @Test("the nodes are read again when their revision moves, not on every event")
  func readsNodesOnRevision() {
    var view = PlacementView()
    var nodes = ["n1", "n2"].map(World.node)
    let at = Date(timeIntervalSince1970: 1_800_000_000)
    view.sync(Observed(nodes: nodes, reports: [:], now: at, nodesRevision: 1))
    #expect(view.cluster.ids == ["n1", "n2"])
    nodes[0].state = .down
    view.sync(Observed(nodes: nodes, reports: [:], now: at, nodesRevision: 1))
    #expect(view.cluster.node("n1")?.state == .ready, "same revision: not read")
    view.sync(Observed(nodes: nodes, reports: [:], now: at, nodesRevision: 2))
    #expect(view.cluster.node("n1")?.state == .down)
    nodes.removeLast()
    view.sync(Observed(nodes: nodes, reports: [:], now: at))
    #expect(view.cluster.ids == ["n1"], "no revision: read every time")
  }

  @Test("a port two holders share stays held until both let go")
  func sharedPort() {
    var view = PlacementView()
    view.sync(Observed(nodes: [World.node("n1")], reports: [:], now: Date()))
    let cpu = Resources(cpuMillis: 100, memoryBytes: 1 << 20)
    view.hold(cpu, port: 20000, on: "n1")
    view.hold(cpu, port: 20000, on: "n1")
    view.release(cpu, port: 20000, on: "n1")
    #expect(view.cluster.node("n1")?.usedPorts == [20000])
    view.release(cpu, port: 20000, on: "n1")
    #expect(view.cluster.node("n1")?.usedPorts == [])
    #expect(view.cluster.node("n1")?.allocated == .zero)
  }
}
