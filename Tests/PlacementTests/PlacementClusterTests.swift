import ModelFixtures
import PropertyBased
import SchedModel
import Testing

@testable import Placement

typealias SplitMix = SeededRNG

/// A cluster of a few hundred nodes of mixed sizes, states, labels and port ranges.
func mixedCluster(_ count: Int, using random: inout SplitMix) -> [PlacementNode] {
  let shapes: [(Int64, Int64)] = [(4000, 8), (8000, 32), (16000, 64), (3500, 7)]
  return (0..<count).map { index in
    let (cpu, memory) = shapes.randomElement(using: &random)!
    let capacity = Resources(cpuMillis: cpu, memoryBytes: memory * gib)
    let usedShare = Int64.random(in: 0...4, using: &random)
    let low = 20000 + Int.random(in: 0...3, using: &random)
    return PlacementNode(
      id: NodeID("node-\(String(index, radix: 7))"),
      state: Int.random(in: 0..<12, using: &random) == 0 ? .down : .ready, capacity: capacity,
      allocated: Resources(
        cpuMillis: cpu * usedShare / 5,
        memoryBytes: memory * gib * Int64.random(in: 0...4, using: &random) / 5),
      ports: try! PortRange(low: low, high: low + Int.random(in: 2...70, using: &random)),
      usedPorts: Set(
        (0..<Int.random(in: 0...3, using: &random)).map { _ in
          low + Int.random(in: 0...2, using: &random)
        }),
      labels: index % 3 == 0 ? ["zone": "a"] : ["zone": "b"])
  }
}

func randomRequest(using random: inout SplitMix) -> SetRequest {
  let sizes: [(Int64, Int64)] = [
    (250, 256), (500, 512), (1000, 1024), (2000, 2048), (2000, 4096), (300, 3000),
  ]
  let (cpu, memory) = sizes.randomElement(using: &random)!
  return SetRequest(
    count: Int.random(in: 1...12, using: &random),
    demand: Resources(cpuMillis: cpu, memoryBytes: memory << 20),
    requiredLabels: Int.random(in: 0..<5, using: &random) == 0 ? ["zone": "a"] : [:],
    maxPerNode: Int.random(in: 0..<3, using: &random) == 0
      ? nil : Int.random(in: 1...3, using: &random))
}

@Suite("PlacementCluster: the index against the reference")
struct PlacementClusterTests {
  @Test("the same plan as the reference on small random clusters")
  func samePlanOnSmallClusters() async {
    await propertyCheck(count: 150, input: SmallCase.generator) { c in
      // Compared first: #expect on the values would describe both on every case.
      let same =
        try! Placer.place(c.request, on: c.nodes, rule: .bestFit)
        == ReferencePlacer.place(c.request, on: c.nodes)
      #expect(same, "\(c)")
    }
  }

  @Test(
    "sets placed one after another on a kept cluster: each plan the reference's",
    arguments: [1])
  func sameOverSequences(seed: UInt64) throws {
    var random = SplitMix(state: seed)
    let start = mixedCluster(300, using: &random)
    var cluster = PlacementCluster(start)
    var placed: [(SetRequest, [PlannedSlot])] = []
    for step in 0..<120 {
      let request = randomRequest(using: &random)
      let nodes = cluster.nodes()
      let expected = try ReferencePlacer.place(request, on: nodes)
      let got = try cluster.place(request, rule: .bestFit)
      let same = got == expected
      #expect(same, "seed \(seed), step \(step)")
      if case .placed(let slots) = got {
        cluster.commit(slots, demand: request.demand)
        placed.append((request, slots))
      }
      // Now and then a set goes away, or a node changes state.
      if step % 7 == 6, !placed.isEmpty {
        let (gone, slots) = placed.remove(at: Int.random(in: 0..<placed.count, using: &random))
        for slot in slots { cluster.release(gone.demand, port: slot.hostPort, on: slot.node) }
      }
      if step % 11 == 10 {
        let id = start.randomElement(using: &random)!.id
        cluster.setState(cluster.node(id)!.state == .ready ? .down : .ready, of: id)
      }
    }
    // Kept one change at a time, it is the cluster made afresh from its nodes.
    let fresh = PlacementCluster(cluster.nodes())
    #expect(fresh.nodes() == cluster.nodes())
    for _ in 0..<20 {
      let request = randomRequest(using: &random)
      for rule in PlacementRule.allCases {
        #expect(try fresh.place(request, rule: rule) == cluster.place(request, rule: rule))
      }
    }
    #expect(fresh.nodes() == cluster.nodes(), "placing changes nothing until a plan is committed")
  }

  @Test("the per-node limit counts the set's slots already there")
  func sameSetLimit() throws {
    let cluster = PlacementCluster([node("a"), node("b"), node("c")])
    for rule in PlacementRule.allCases {
      let result = try cluster.place(
        request(3, maxPerNode: 2), sameSet: ["a": 2, "b": 1], rule: rule)
      #expect(placedNodes(result) == ["b", "c", "c"])
    }
  }

  @Test("removed and re-added nodes, changed capacity")
  func upsertAndRemove() throws {
    var cluster = PlacementCluster([node("a"), node("b")])
    cluster.remove("a")
    #expect(cluster.ids == ["b"])
    #expect(placedNodes(try cluster.place(request(2), rule: .bestFit)) == ["b", "b"])
    cluster.upsert(node("b", cpu: 1000))
    #expect(placedNodes(try cluster.place(request(2), rule: .bestFit)) == [])
    cluster.upsert(node("a", allocatedCPU: 2000))
    #expect(placedNodes(try cluster.place(request(2), rule: .bestFit)) == ["b", "a"])
    #expect(cluster.count == 2)
  }
}

@Suite("PortSet: the lowest free ports")
struct PortSetTests {
  @Test func lowestFreeSkipsHeldAndStopsAtTheEnd() {
    let range = try! PortRange(low: 100, high: 230)
    var ports = PortSet(range: range, used: [100, 101, 103, 99, 231])
    #expect(ports.used == 3)
    #expect(ports.lowestFree(3) == [102, 104, 105])
    for port in 100...227 { ports.insert(port) }
    #expect(ports.freeCount == 3)
    #expect(ports.lowestFree(5) == [228, 229, 230])
    ports.remove(164)
    ports.remove(164)
    #expect(ports.lowestFree(2) == [164, 228])
    #expect(ports.held.count == 127)
    #expect(!ports.contains(164) && ports.contains(165) && !ports.contains(99))
  }

  @Test("against a set of ports, at random")
  func againstASet() {
    var random = SplitMix(state: 9)
    let range = try! PortRange(low: 5000, high: 5200)
    var ports = PortSet(range: range)
    var model: Set<Int> = []
    for _ in 0..<800 {
      let port = Int.random(in: 4990...5210, using: &random)
      if Bool.random(using: &random) {
        ports.insert(port)
        if range.contains(port) { model.insert(port) }
      } else {
        ports.remove(port)
        model.remove(port)
      }
      let expected = Array((range.low...range.high).filter { !model.contains($0) }.prefix(4))
      #expect(ports.lowestFree(4) == expected)
      #expect(ports.used == model.count)
    }
  }
}
