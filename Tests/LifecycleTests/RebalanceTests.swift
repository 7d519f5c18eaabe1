import Foundation
import Lifecycle
import OperatorAPI
import SchedModel
import Testing

/// Desired state made by hand: apps whose live (and standby) sets sit on given nodes.
private struct Layout {
  var apps: [AppRecord] = []
  var sets: [SetRecord] = []
  var allocations: [Allocation] = []
  let at = Date(timeIntervalSince1970: 1_800_000_000)

  /// `name`'s live blue set, a slot on each of `nodes`, each slot `cpu` millicores and
  /// `memory` MiB; `green`: a standby (older) or candidate (newer) green set on the same nodes.
  mutating func app(
    _ name: String, on nodes: [NodeID], cpu: Int64 = 100, memory: Int64 = 64,
    green: Bool? = nil
  ) {
    let resources = Resources(cpuMillis: cpu, memoryBytes: memory << 20)
    apps.append(
      AppRecord(
        spec: AppSpec(name: name, image: "\(name):1", slots: nodes.count, resources: resources),
        live: .blue, updatedAt: at))
    var colors: [(Color, Date)] = [(.blue, at)]
    if let green { colors.append((.green, at.addingTimeInterval(green ? 60 : -60))) }
    for (color, created) in colors {
      sets.append(
        SetRecord(
          app: name, color: color, deployment: "\(name)-\(color)", image: "\(name):1",
          createdAt: created))
      for (index, node) in nodes.enumerated() {
        allocations.append(
          Allocation(
            slot: SlotID(app: name, color: color, index: index), node: node,
            hostPort: 20000 + allocations.count, resources: resources))
      }
    }
  }

  func plan(
    nodes: [String] = ["n1", "n2"], cpu: Int64 = 1000, memory: Int64 = 1024,
    down: Set<String> = [], busy: [String: String] = [:]
  ) -> RebalancePlan {
    let all = nodes.map { id in
      Node(
        spec: NodeSpec(
          id: NodeID(id), name: id, address: "10.0.0.1",
          capacity: Resources(cpuMillis: cpu, memoryBytes: memory << 20),
          ports: try! PortRange(low: 20000, high: 20099)),
        state: down.contains(id) ? .down : .ready, generation: 1, registeredAt: at)
    }
    return RebalancePlanner.plan(
      Desired(apps: apps, sets: sets, allocations: allocations), nodes: all, busy: busy)
  }
}

@Suite("Rebalance plan: the live sets repacked, the moves, the nodes freed")
struct RebalancePlanTests {
  @Test("two small apps on a node each: one moves to the other's node, which stays; one is freed")
  func consolidates() {
    var layout = Layout()
    layout.app("a", on: ["n1", "n1"])
    layout.app("b", on: ["n2", "n2"])
    let plan = layout.plan()
    #expect(plan.blocked == nil)
    #expect(plan.nodesInUse == 2 && plan.nodesAfter == 1 && plan.lowerBound == 1)
    #expect(plan.moves == [.init(app: "b", color: .blue, from: ["n2", "n2"], to: ["n1", "n1"])])
    #expect(plan.freed == ["n2"])
  }

  @Test("sets that pair up only when both move: each node ends exactly full, the third freed")
  func pairs() {
    // X fills n1's CPU; Y's slots need most of a node's memory, one on n2 and one on n3.
    var layout = Layout()
    layout.app("x", on: ["n1", "n1"], cpu: 500, memory: 256)
    layout.app("y", on: ["n2", "n3"], cpu: 500, memory: 768)
    let plan = layout.plan(nodes: ["n1", "n2", "n3"])
    #expect(plan.nodesInUse == 3 && plan.nodesAfter == 2, "\(plan)")
    #expect(plan.freed == ["n3"])
    #expect(
      plan.moves == [
        .init(app: "x", color: .blue, from: ["n1", "n1"], to: ["n1", "n2"]),
        .init(app: "y", color: .blue, from: ["n2", "n3"], to: ["n1", "n2"]),
      ])
  }

  @Test("already as few nodes as can be: nothing to do")
  func nothingToDo() {
    var layout = Layout()
    layout.app("a", on: ["n1", "n1"])
    layout.app("b", on: ["n1"])
    let plan = layout.plan()
    #expect(plan.blocked == nil && plan.moves.isEmpty && plan.freed.isEmpty)
    #expect(plan.nodesAfter == plan.nodesInUse)
  }

  @Test("a busy app, a slot on a node that is down, a candidate set: no plan, and why")
  func blocked() {
    var layout = Layout()
    layout.app("a", on: ["n1"])
    layout.app("b", on: ["n2"])
    #expect(
      layout.plan(busy: ["b": "a switch is under way"]).blocked?.contains("b is busy") == true)
    #expect(layout.plan(down: ["n2"]).blocked?.contains("on node n2, which is not ready") == true)
    var candidate = Layout()
    candidate.app("a", on: ["n1"], green: true)
    candidate.app("b", on: ["n2"])
    #expect(candidate.plan().blocked?.contains("a has a candidate set") == true)
  }

  @Test("a standby set is listed to be retired, and its node counts as in use")
  func standby() {
    var layout = Layout()
    layout.app("a", on: ["n1"], green: false)
    layout.app("b", on: ["n2"])
    let plan = layout.plan()
    #expect(plan.standby == [.init(app: "a", color: .green, nodes: ["n1"])])
    #expect(plan.nodesAfter == 1 && plan.freed.count == 1)
  }
}
