import Placement
import SchedModel
import Testing

let gib: Int64 = 1 << 30

func node(
  _ id: String, cpu: Int64 = 4000, memory: Int64 = 8 * gib, allocatedCPU: Int64 = 0,
  allocatedMemory: Int64 = 0, state: NodeState = .ready, ports: ClosedRange<Int> = 20000...20009,
  used: Set<Int> = [], labels: [String: String] = [:], sameSet: Int = 0
) -> PlacementNode {
  PlacementNode(
    id: NodeID(id), state: state, capacity: Resources(cpuMillis: cpu, memoryBytes: memory),
    allocated: Resources(cpuMillis: allocatedCPU, memoryBytes: allocatedMemory),
    ports: try! PortRange(low: ports.lowerBound, high: ports.upperBound), usedPorts: used,
    labels: labels, sameSetSlots: sameSet)
}

func request(
  _ count: Int, cpu: Int64 = 1000, memory: Int64 = 1 * gib, labels: [String: String] = [:],
  maxPerNode: Int? = nil
) -> SetRequest {
  SetRequest(
    count: count, demand: Resources(cpuMillis: cpu, memoryBytes: memory), requiredLabels: labels,
    maxPerNode: maxPerNode)
}

func placedNodes(_ result: PlacementResult) -> [String] {
  guard case .placed(let slots) = result else { return [] }
  return slots.map(\.node.rawValue)
}

func unplaced(_ result: PlacementResult) -> [UnplacedSlot] {
  guard case .unplaced(let slots) = result else { return [] }
  return slots
}

@Suite("Placer: best fit, all or nothing")
struct PlacerTests {
  @Test func perfectFitFillsOneNodeExactly() throws {
    let result = try Placer.place(request(4), on: [node("a"), node("b")])
    #expect(placedNodes(result) == ["a", "a", "a", "a"])
    guard case .placed(let slots) = result else { return }
    #expect(slots.map(\.hostPort) == [20000, 20001, 20002, 20003])
    #expect(slots.map(\.index) == [0, 1, 2, 3])
  }

  @Test func bestFitPrefersTheFullerNode() throws {
    // b already holds 3 cores: one more slot makes it full, the tightest fit.
    let result = try Placer.place(
      request(1), on: [node("a"), node("b", allocatedCPU: 3000, allocatedMemory: 3 * gib)])
    #expect(placedNodes(result) == ["b"])
  }

  @Test func overloadedNodeIsSkipped() throws {
    let result = try Placer.place(
      request(2), on: [node("a", allocatedCPU: 3500), node("b")])
    #expect(placedNodes(result) == ["b", "b"])
  }

  @Test func tiesGoToTheLowestNodeID() throws {
    let result = try Placer.place(request(1), on: [node("c"), node("a"), node("b")])
    #expect(placedNodes(result) == ["a"])
  }

  @Test func sameInputSamePlan() throws {
    let nodes = [node("c", allocatedCPU: 500), node("a"), node("b", allocatedMemory: 2 * gib)]
    let first = try Placer.place(request(5, cpu: 700), on: nodes)
    let second = try Placer.place(request(5, cpu: 700), on: nodes.reversed())
    #expect(first == second)
  }

  @Test func downNodesAreNeverUsed() throws {
    let result = try Placer.place(request(2), on: [node("a", state: .down), node("b")])
    #expect(placedNodes(result) == ["b", "b"])
    let none = try Placer.place(request(1), on: [node("a", state: .down)])
    #expect(unplaced(none).map(\.reason) == ["1 node down"])
  }

  @Test func labelConstraints() throws {
    let nodes = [node("a", labels: ["zone": "home"]), node("b", labels: ["zone": "rack"])]
    #expect(placedNodes(try Placer.place(request(1, labels: ["zone": "rack"]), on: nodes)) == ["b"])
    let none = try Placer.place(request(1, labels: ["disk": "ssd"]), on: nodes)
    #expect(unplaced(none).map(\.reason) == ["labels unmatched on 2 nodes"])
  }

  @Test func atMostKPerNodeSpreadsTheSet() throws {
    let result = try Placer.place(request(4, maxPerNode: 2), on: [node("a"), node("b"), node("c")])
    #expect(placedNodes(result) == ["a", "a", "b", "b"])
    let counted = try Placer.place(
      request(2, maxPerNode: 2), on: [node("a", sameSet: 2), node("b", sameSet: 1)])
    #expect(unplaced(counted).last?.reason == "per-node limit reached on 2 nodes")
  }

  @Test func allOrNothingWithAReasonPerSlot() throws {
    // 3 slots of 3 cores on two 4-core nodes: two fit, the third does not.
    let result = try Placer.place(request(3, cpu: 3000), on: [node("a"), node("b")])
    let slots = unplaced(result)
    #expect(slots.count == 3)
    #expect(slots[0].heldBackFrom == "a")
    #expect(slots[1].heldBackFrom == "b")
    #expect(slots[2].reason == "cpu short on 2 nodes")
  }

  @Test func everyShortResourceIsNamed() throws {
    let result = try Placer.place(
      request(1, cpu: 5000, memory: 9 * gib),
      on: [node("a"), node("b", ports: 20000...20000, used: [20000]), node("c", state: .down)])
    #expect(
      unplaced(result).map(\.reason) == [
        "1 node down, cpu short on 2 nodes, memory short on 2 nodes, no free host port on 1 node"
      ])
  }

  @Test func portsAreNeverShared() throws {
    let result = try Placer.place(
      request(3, cpu: 100, memory: 1), on: [node("a", ports: 20000...20004, used: [20000, 20002])])
    guard case .placed(let slots) = result else {
      Issue.record("expected a plan")
      return
    }
    #expect(slots.map(\.hostPort) == [20001, 20003, 20004])
    let full = try Placer.place(
      request(4, cpu: 100, memory: 1), on: [node("a", ports: 20000...20004, used: [20000, 20002])])
    #expect(unplaced(full).last?.reason == "no free host port on 1 node")
  }

  @Test func emptyClusterSaysSo() throws {
    #expect(unplaced(try Placer.place(request(1), on: [])).map(\.reason) == ["no nodes registered"])
  }

  @Test func invalidRequestsAreRejected() {
    #expect(throws: PlacementError.self) { try Placer.place(request(0), on: [node("a")]) }
    #expect(throws: PlacementError.self) { try Placer.place(request(1, cpu: 0), on: [node("a")]) }
    #expect(throws: PlacementError.self) {
      try Placer.place(request(1, maxPerNode: 0), on: [node("a")])
    }
  }

  @Test func lowerBound() {
    let capacity = Resources(cpuMillis: 4000, memoryBytes: 8 * gib)
    #expect(
      Placer.lowerBound(
        count: 4, demand: Resources(cpuMillis: 1000, memoryBytes: gib), nodeCapacity: capacity) == 1
    )
    #expect(
      Placer.lowerBound(
        count: 5, demand: Resources(cpuMillis: 1000, memoryBytes: gib), nodeCapacity: capacity) == 2
    )
    #expect(
      Placer.lowerBound(
        count: 3, demand: Resources(cpuMillis: 100, memoryBytes: 3 * gib), nodeCapacity: capacity)
        == 2)
  }
}

@Suite("Scoring")
struct ScoringTests {
  @Test(
    arguments: [
      (Resources(cpuMillis: 0, memoryBytes: 0), 0.0),
      (Resources(cpuMillis: 1000, memoryBytes: 1000), 18.0),
      (Resources(cpuMillis: 500, memoryBytes: 500), 20 - 2 * 3.1622776601683795),
    ])
  func bestFitTable(used: Resources, expected: Double) {
    let score = Scoring.bestFit(capacity: Resources(cpuMillis: 1000, memoryBytes: 1000), used: used)
    #expect(abs(score - expected) < 1e-9)
  }

  @Test func fullerScoresHigher() {
    let capacity = Resources(cpuMillis: 4000, memoryBytes: 4000)
    let light = Scoring.bestFit(
      capacity: capacity, used: Resources(cpuMillis: 1000, memoryBytes: 1000))
    let heavy = Scoring.bestFit(
      capacity: capacity, used: Resources(cpuMillis: 3000, memoryBytes: 2000))
    #expect(heavy > light)
  }
}
