import Placement
import PropertyBased
import SchedModel
import Testing

/// A small random cluster and set, for properties checked against brute force.
struct SmallCase: Sendable, CustomStringConvertible {
  var nodes: [PlacementNode]
  var request: SetRequest

  var description: String {
    let shown = nodes.map {
      "\($0.id)(\($0.state.rawValue) cpu \($0.allocated.cpuMillis)/\($0.capacity.cpuMillis) mem \($0.allocated.memoryBytes)/\($0.capacity.memoryBytes) ports \($0.ports) used \($0.usedPorts.sorted()) same \($0.sameSetSlots))"
    }
    return
      "\(request.count) x (\(request.demand.cpuMillis), \(request.demand.memoryBytes)) max \(request.maxPerNode.map(String.init) ?? "-") on \(shown)"
  }

  static var generator: Generator<SmallCase, some SendableSequenceType> {
    zip(requestGenerator, nodeGenerator.array(of: 1...4)).map { request, raw in
      SmallCase(
        nodes: raw.enumerated().map { index, node in
          var node = node
          node.id = NodeID("n\(index)")
          return node
        },
        request: request)
    }
  }

  static var requestGenerator: Generator<SetRequest, some SendableSequenceType> {
    zip(Gen.int(in: 1...4), Gen.int(in: 1...4), Gen.int(in: 1...4), Gen.int(in: 0...3)).map {
      (slots: Int, cpu: Int, memory: Int, maxPerNode: Int) -> SetRequest in
      SetRequest(
        count: slots,
        demand: Resources(cpuMillis: Int64(cpu) * 100, memoryBytes: Int64(memory) * 100),
        maxPerNode: maxPerNode == 0 ? nil : maxPerNode)
    }
  }

  /// Capacity 0 to 9 units per dimension, some already allocated, 1 to 4 ports, one node in
  /// seven down, some with a port taken or a slot of the set already there.
  static var nodeGenerator: Generator<PlacementNode, some SendableSequenceType> {
    zip(
      zip(Gen.int(in: 0...9), Gen.int(in: 0...9)),
      zip(Gen.int(in: 0...5), Gen.int(in: 0...5)),
      zip(Gen.int(in: 1...4), Gen.int(in: 0...6))
    ).map { (capacity: (Int, Int), allocated: (Int, Int), shape: (Int, Int)) -> PlacementNode in
      let (cpu, memory) = capacity
      let (portCount, flavour) = shape
      return PlacementNode(
        id: "x", state: flavour == 0 ? .down : .ready,
        capacity: Resources(cpuMillis: Int64(cpu) * 100, memoryBytes: Int64(memory) * 100),
        allocated: Resources(
          cpuMillis: Int64(min(allocated.0, cpu)) * 100,
          memoryBytes: Int64(min(allocated.1, memory)) * 100),
        ports: try! PortRange(low: 30000, high: 30000 + portCount - 1),
        usedPorts: flavour % 3 == 1 ? [30000] : [], sameSetSlots: flavour % 2)
    }
  }
}

/// Brute force: tries every assignment of slots to nodes.
func existsAssignment(_ c: SmallCase) -> Bool {
  func fits(_ counts: [Int]) -> Bool {
    for (node, count) in zip(c.nodes, counts) where count > 0 {
      if node.state != .ready { return false }
      let after = node.allocated + c.request.demand * count
      if !after.fits(in: node.capacity) { return false }
      if node.ports.count - node.usedPorts.count < count { return false }
      if let limit = c.request.maxPerNode, node.sameSetSlots + count > limit { return false }
    }
    return true
  }
  func search(_ slot: Int, _ counts: inout [Int]) -> Bool {
    if slot == c.request.count { return fits(counts) }
    for index in counts.indices {
      counts[index] += 1
      if fits(counts), search(slot + 1, &counts) { return true }
      counts[index] -= 1
    }
    return false
  }
  var counts = Array(repeating: 0, count: c.nodes.count)
  return search(0, &counts)
}

@Suite("Placer properties")
struct PlacerPropertyTests {
  @Test("a placed set never over-commits a node, a port, or a limit")
  func neverOverCommits() async {
    await propertyCheck(count: 500, input: SmallCase.generator) { c in
      guard case .placed(let slots) = try! Placer.place(c.request, on: c.nodes) else { return }
      #expect(slots.count == c.request.count)
      for node in c.nodes {
        let mine = slots.filter { $0.node == node.id }
        if mine.isEmpty { continue }
        #expect(node.state == .ready)
        #expect((node.allocated + c.request.demand * mine.count).fits(in: node.capacity))
        let ports = mine.map(\.hostPort)
        #expect(Set(ports).count == ports.count)
        #expect(ports.allSatisfy { node.ports.contains($0) && !node.usedPorts.contains($0) })
        if let limit = c.request.maxPerNode { #expect(node.sameSetSlots + mine.count <= limit) }
      }
    }
  }

  @Test("a set that fits by exhaustive search is placed; one that does not is refused")
  func completeAgainstBruteForce() async {
    await propertyCheck(count: 500, input: SmallCase.generator) { c in
      let result = try! Placer.place(c.request, on: c.nodes)
      let placed: Bool
      switch result {
      case .placed: placed = true
      case .unplaced(let slots):
        placed = false
        #expect(slots.count == c.request.count)
      }
      #expect(placed == existsAssignment(c))
    }
  }
}
