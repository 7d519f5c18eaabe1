import Placement
import SchedModel
import Testing

private func target(
  _ id: String, cpu: Int64 = 4000, memory: Int64 = 8 * gib, labels: [String: String] = [:],
  ports: Int = 100
) -> Repack.Target {
  Repack.Target(
    id: NodeID(id), capacity: Resources(cpuMillis: cpu, memoryBytes: memory), labels: labels,
    ports: ports)
}

/// What is wrong with `plan` for `sets` on `nodes`, or nil.
private func problem(_ plan: [[NodeID]], _ sets: [SetRequest], _ nodes: [Repack.Target])
  -> String?
{
  guard plan.count == sets.count else { return "\(plan.count) sets planned of \(sets.count)" }
  var held: [NodeID: Resources] = [:]
  var slots: [NodeID: Int] = [:]
  let byID = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0) })
  for (set, placed) in zip(sets, plan) {
    guard placed.count == set.count else { return "\(placed.count) slots of \(set.count)" }
    var perNode: [NodeID: Int] = [:]
    for id in placed {
      guard let node = byID[id] else { return "unknown node \(id)" }
      guard set.requiredLabels.allSatisfy({ node.labels[$0.key] == $0.value }) else {
        return "a slot on \(id) without the labels \(set.requiredLabels)"
      }
      held[id, default: .zero] = held[id, default: .zero] + set.demand
      slots[id, default: 0] += 1
      perNode[id, default: 0] += 1
    }
    if let limit = set.maxPerNode, let over = perNode.first(where: { $0.value > limit }) {
      return "\(over.value) slots of one set on \(over.key), limit \(limit)"
    }
  }
  for (id, resources) in held where !resources.fits(in: byID[id]!.capacity) {
    return "\(id) holds \(resources), over \(byID[id]!.capacity)"
  }
  if let over = slots.first(where: { $0.value > byID[$0.key]!.ports }) {
    return "\(over.value) slots on \(over.key), which has \(byID[over.key]!.ports) ports"
  }
  return nil
}

@Suite("Repack: every set at once, on as few nodes as it can")
struct RepackTests {
  @Test(
    "two sets that pair up exactly: two nodes, where placing one set after the other takes three")
  func pairsWhatOnlinePlacementCannot() throws {
    // In this order, online placement puts the CPU-heavy pair on one node (best fit fills it);
    // the memory-heavy pair then needs a node each. Paired, each node is exactly full.
    let sets = [request(2, cpu: 2000, memory: 2 * gib), request(2, cpu: 2000, memory: 6 * gib)]
    let nodes = [target("a"), target("b"), target("c")]
    let plan = try #require(Repack.plan(sets, on: nodes))
    #expect(problem(plan, sets, nodes) == nil)
    #expect(Set(plan.joined()).count == 2, "\(plan)")
    let instance = PlacementInstance(
      node: .init(cpuMillicores: 4000, memoryMiB: 8192), nodes: 3,
      sets: sets.map {
        Array(
          repeating: .init(cpuMillicores: 2000, memoryMiB: $0.demand.memoryBytes >> 20), count: 2)
      })
    #expect(try InstancePlanner.plan(instance, rule: .aligned).nodesUsed == 3)
    #expect(try OfflinePacking.repack(instance).nodesUsed == 2)
  }

  @Test("nodes cut into sets and shuffled are packed back onto as many nodes as were cut")
  func perfectFit() throws {
    var random = SplitMix(state: 7)
    var sets: [SetRequest] = []
    let cut = 12
    for _ in 0..<cut {
      // Each node cut into 2 to 4 sets of 1 to 2 slots, in steps of 250m and 512 MiB.
      var cpu: Int64 = 16
      var memory: Int64 = 16
      while cpu > 0, memory > 0 {
        let count = Int64.random(in: 1...2, using: &random)
        var c = min(cpu, Int64.random(in: 1...6, using: &random) * count)
        var m = min(memory, Int64.random(in: 1...6, using: &random) * count)
        if cpu - c < count || memory - m < count || cpu - c == 0 || memory - m == 0 {
          (c, m) = (cpu, memory)
        }
        let slots = c % count == 0 && m % count == 0 ? count : 1
        sets.append(request(Int(slots), cpu: c / slots * 250, memory: m / slots * (gib / 2)))
        cpu -= c
        memory -= m
      }
    }
    sets.shuffle(using: &random)
    let nodes = (0..<(cut * 2)).map { target("n\($0)") }
    let plan = try #require(Repack.plan(sets, on: nodes))
    #expect(problem(plan, sets, nodes) == nil)
    #expect(Set(plan.joined()).count == cut)
  }

  @Test("on random small clusters every plan keeps capacity, labels, ports and the per-node limit")
  func plansHold() {
    var random = SplitMix(state: 42)
    var planned = 0
    for _ in 0..<300 {
      let nodes = (0..<Int.random(in: 1...5, using: &random)).map { number in
        target(
          "n\(number)", cpu: [2000, 4000].randomElement(using: &random)!,
          memory: [4, 8].randomElement(using: &random)! * gib,
          labels: ["zone": ["a", "b"].randomElement(using: &random)!],
          ports: Int.random(in: 2...8, using: &random))
      }
      let sets = (0..<Int.random(in: 1...3, using: &random)).map { _ in
        request(
          Int.random(in: 1...5, using: &random),
          cpu: Int64.random(in: 1...8, using: &random) * 250,
          memory: Int64.random(in: 1...8, using: &random) * gib / 2,
          labels: Bool.random(using: &random) ? ["zone": "a"] : [:],
          maxPerNode: Bool.random(using: &random) ? Int.random(in: 1...2, using: &random) : nil)
      }
      guard let plan = Repack.plan(sets, on: nodes) else { continue }
      planned += 1
      if let problem = problem(plan, sets, nodes) {
        Issue.record("\(problem): sets \(sets) on \(nodes)")
        return
      }
    }
    // Enough of the cases fit for the check to mean something.
    #expect(planned > 60, "only \(planned) of 300 cases planned")
  }

  @Test("more than the nodes hold: no plan; the same input: the same plan")
  func noneOrDeterministic() {
    let nodes = [target("a"), target("b")]
    #expect(Repack.plan([request(9, cpu: 1000, memory: gib)], on: nodes) == nil)
    let sets = [request(3, cpu: 1500, memory: gib), request(4, cpu: 500, memory: 3 * gib)]
    #expect(Repack.plan(sets, on: nodes) == Repack.plan(sets, on: nodes))
  }
}
