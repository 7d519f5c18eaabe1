import Placement
import PropertyBased
import SchedModel
import Testing

@Suite("Placement rule aligned: best fit steered by the shape of free room")
struct AlignedRuleTests {
  @Test(
    "a CPU-heavy slot goes where memory-heavy slots left CPU free, where best fit fills the fuller node"
  )
  func complementsShapes() throws {
    // a: memory mostly taken, CPU free; b: fuller overall, CPU mostly taken, memory free.
    let nodes = [
      node("a", cpu: 4000, memory: 8 * gib, allocatedCPU: 500, allocatedMemory: 6 * gib),
      node("b", cpu: 4000, memory: 8 * gib, allocatedCPU: 3000, allocatedMemory: 4 * gib),
    ]
    let heavy = request(1, cpu: 1000, memory: gib / 4)
    #expect(placedNodes(try Placer.place(heavy, on: nodes, rule: .bestFit)) == ["b"])
    #expect(placedNodes(try Placer.place(heavy, on: nodes, rule: .aligned)) == ["a"])
  }

  @Test(
    "while the cluster holds 1.4 times the share of one resource as of the other, best fit's plan"
  )
  func lopsidedDemandIsBestFit() throws {
    // As above, with c holding most of its CPU and no memory: with the slot, CPU is 69% of the
    // cluster held and memory 43%, 1.6 times; without c, 56% and 64%: aligned steers.
    let a = node("a", cpu: 4000, memory: 8 * gib, allocatedCPU: 500, allocatedMemory: 6 * gib)
    let b = node("b", cpu: 4000, memory: 8 * gib, allocatedCPU: 3000, allocatedMemory: 4 * gib)
    let c = node("c", cpu: 4000, memory: 8 * gib, allocatedCPU: 3800)
    let heavy = request(1, cpu: 1000, memory: gib / 4)
    #expect(placedNodes(try Placer.place(heavy, on: [a, b, c], rule: .aligned)) == ["b"])
    #expect(placedNodes(try Placer.place(heavy, on: [a, b], rule: .aligned)) == ["a"])
    // A node down holds nothing the rule counts: c down, aligned steers again.
    let down = node("c", allocatedCPU: 3800, state: .down)
    #expect(placedNodes(try Placer.place(heavy, on: [a, b, down], rule: .aligned)) == ["a"])
  }

  @Test(
    "an empty node only when no node in use has room; a set stays on its one node as best fit keeps it"
  )
  func emptyNodesLast() throws {
    let nodes = [node("a"), node("b", allocatedCPU: 3500), node("c")]
    // b cannot take 1000m: a, the lowest id of the empty ones, takes the set whole.
    #expect(placedNodes(try Placer.place(request(4), on: nodes)) == ["a", "a", "a", "a"])
    #expect(placedNodes(try Placer.place(request(1, cpu: 500), on: nodes)) == ["b"])
  }

  @Test(
    "the same sets fit as with the reference; on nodes of one size, as many nodes end up in use")
  func sameFeasibilityAndNodesInUse() async {
    await propertyCheck(count: 200, input: SmallCase.generator) { c in
      let reference = try! ReferencePlacer.place(c.request, on: c.nodes)
      let aligned = try! Placer.place(c.request, on: c.nodes, rule: .aligned)
      switch (reference, aligned) {
      case (.placed, .placed), (.unplaced, .unplaced): break
      default: Issue.record("feasibility differs: \(reference) against \(aligned)")
      }
      // The same nodes, all of the first one's size.
      let sized = c.nodes.map { node in
        var node = node
        node.capacity = c.nodes[0].capacity
        node.allocated = Resources(
          cpuMillis: min(node.allocated.cpuMillis, node.capacity.cpuMillis),
          memoryBytes: min(node.allocated.memoryBytes, node.capacity.memoryBytes))
        return node
      }
      func inUse(_ result: PlacementResult) -> Int {
        guard case .placed(let slots) = result else { return -1 }
        let placedOn = Set(slots.map(\.node))
        return sized.filter { $0.allocated != .zero || placedOn.contains($0.id) }.count
      }
      #expect(
        inUse(try! Placer.place(c.request, on: sized, rule: .aligned))
          == inUse(try! ReferencePlacer.place(c.request, on: sized)))
    }
  }
}

/// The aligned rule as written, one slot at a time over every node: the pool's shortcut is
/// checked against it.
func alignedByHand(_ request: SetRequest, on start: [PlacementNode]) -> [PlannedSlot]? {
  var nodes = start.sorted { $0.id < $1.id }
  let lopsided = lopsidedByHand(request, on: nodes)
  var planned: [PlannedSlot] = []
  for index in 0..<request.count {
    var feasible: [(position: Int, score: Double)] = []
    for (position, node) in nodes.enumerated() {
      guard node.state == .ready,
        request.requiredLabels.allSatisfy({ node.labels[$0.key] == $0.value }),
        request.maxPerNode.map({ node.sameSetSlots < $0 }) ?? true,
        (node.allocated + request.demand).fits(in: node.capacity), node.firstFreePort != nil
      else { continue }
      feasible.append(
        (position, Scoring.bestFit(capacity: node.capacity, used: node.allocated + request.demand)))
    }
    // Sorted by score, stable: ties keep id order.
    let ranked = feasible.enumerated().sorted {
      $0.element.score != $1.element.score
        ? $0.element.score > $1.element.score : $0.offset < $1.offset
    }.map(\.element).prefix(8)
    guard let first = ranked.first else { return nil }
    var chosen: (position: Int, alignment: Double)?
    for candidate in ranked where !lopsided {
      let node = nodes[candidate.position]
      guard node.allocated != .zero else { continue }
      let alignment = Scoring.alignment(
        free: node.capacity - node.allocated, capacity: node.capacity, request.demand)
      if chosen == nil || alignment > chosen!.alignment { chosen = (candidate.position, alignment) }
    }
    let position = chosen?.position ?? first.position
    let port = nodes[position].firstFreePort!
    nodes[position].allocated = nodes[position].allocated + request.demand
    nodes[position].usedPorts.insert(port)
    nodes[position].sameSetSlots += 1
    planned.append(PlannedSlot(index: index, node: nodes[position].id, hostPort: port))
  }
  return planned
}

/// Whether the ready nodes' share of one resource would be 1.4 times the other's or more with
/// the set placed, summed over every node.
func lopsidedByHand(_ request: SetRequest, on nodes: [PlacementNode]) -> Bool {
  let usable = nodes.filter {
    $0.state == .ready && $0.capacity.cpuMillis > 0 && $0.capacity.memoryBytes > 0
  }
  let capacity = usable.reduce(Resources.zero) { $0 + $1.capacity }
  let held = usable.reduce(request.demand * request.count) { $0 + $1.allocated }
  let cpuShare = Double(held.cpuMillis) / Double(capacity.cpuMillis)
  let memoryShare = Double(held.memoryBytes) / Double(capacity.memoryBytes)
  return !usable.isEmpty && max(cpuShare, memoryShare) >= 1.4 * min(cpuShare, memoryShare)
}

@Suite("Placement rule aligned: the pool against the rule as written")
struct AlignedPoolTests {
  @Test(
    "sets placed one after another on mixed clusters: each plan the one by hand",
    arguments: [11, 12])
  func sameAsByHand(seed: UInt64) throws {
    var random = SplitMix(state: seed)
    var cluster = PlacementCluster(mixedCluster(120, using: &random))
    for step in 0..<120 {
      let request = randomRequest(using: &random)
      let got = try cluster.place(request, rule: .aligned)
      let expected = alignedByHand(request, on: cluster.nodes())
      switch got {
      case .placed(let slots):
        let same = slots == expected
        #expect(same, "seed \(seed), step \(step)")
      case .unplaced:
        let none = expected == nil
        #expect(none, "seed \(seed), step \(step)")
      }
      if case .placed(let slots) = got { cluster.commit(slots, demand: request.demand) }
    }
  }

  @Test(
    "CPU-heavy sets drive demand lopsided while nodes go down and up: each plan the one by hand")
  func lopsidedAsByHand() throws {
    var random = SplitMix(state: 13)
    var cluster = PlacementCluster(mixedCluster(80, using: &random))
    var steps = (steered: 0, lopsided: 0)
    for step in 0..<160 {
      var request = randomRequest(using: &random)
      if step % 3 != 0 {
        request.demand = Resources(
          cpuMillis: [1500, 2000][step % 2], memoryBytes: Int64([128, 256][step % 2]) << 20)
      }
      if step % 10 == 9 {
        let id = cluster.ids[Int.random(in: 0..<cluster.count, using: &random)]
        cluster.setState(cluster.node(id)!.state == .ready ? .down : .ready, of: id)
      }
      let nodes = cluster.nodes()
      if lopsidedByHand(request, on: nodes) { steps.lopsided += 1 } else { steps.steered += 1 }
      let got = try cluster.place(request, rule: .aligned)
      let expected = alignedByHand(request, on: nodes)
      switch got {
      case .placed(let slots):
        let same = slots == expected
        #expect(same, "step \(step)")
        cluster.commit(slots, demand: request.demand)
      case .unplaced:
        let none = expected == nil
        #expect(none, "step \(step)")
      }
    }
    // Both sides of the line were crossed.
    #expect(steps.steered > 10)
    #expect(steps.lopsided > 10)
  }
}
