import SchedModel

/// Packing with the whole picture at once, where online placement sees one set at a time:
/// the baseline placement is measured against.
public enum OfflinePacking {
  /// What "largest" means for first fit decreasing: a slot's shares of a node's CPU and
  /// memory, summed, the larger of the two, or multiplied.
  public enum Size: String, Sendable, CaseIterable {
    case sum, max, product

    func of(_ size: PlacementInstance.Size, node: PlacementInstance.Size) -> Double {
      let cpu = Double(size.cpuMillicores) / Double(node.cpuMillicores)
      let memory = Double(size.memoryMiB) / Double(node.memoryMiB)
      return switch self {
      case .sum: cpu + memory
      case .max: Swift.max(cpu, memory)
      case .product: cpu * memory
      }
    }
  }

  /// First fit decreasing: every slot, largest first, into the first node with room for it.
  /// Sets are not kept together: a slot is a slot. A slot that fits on no node leaves its set
  /// unplaced.
  public static func firstFitDecreasing(_ instance: PlacementInstance, by size: Size = .sum)
    throws(PlacementError) -> InstancePlan
  {
    try instance.validate()
    let node = instance.node
    func share(_ slot: PlacementInstance.Size) -> Double { size.of(slot, node: node) }
    var slots: [(set: Int, slot: Int, size: PlacementInstance.Size)] = []
    for (number, set) in instance.sets.enumerated() {
      for (index, size) in set.enumerated() { slots.append((number, index, size)) }
    }
    slots.sort { share($0.size) > share($1.size) }
    var free: [(cpu: Int64, memory: Int64)] = []
    var where_: [[Int?]] = instance.sets.map { Array(repeating: nil, count: $0.count) }
    for slot in slots {
      let fits = free.firstIndex {
        $0.cpu >= slot.size.cpuMillicores && $0.memory >= slot.size.memoryMiB
      }
      var chosen = fits
      if chosen == nil, free.count < instance.nodes, slot.size.cpuMillicores <= node.cpuMillicores,
        slot.size.memoryMiB <= node.memoryMiB
      {
        free.append((node.cpuMillicores, node.memoryMiB))
        chosen = free.count - 1
      }
      guard let chosen else { continue }
      free[chosen].cpu -= slot.size.cpuMillicores
      free[chosen].memory -= slot.size.memoryMiB
      where_[slot.set][slot.slot] = chosen
    }
    var sets: [[Int]?] = []
    var used = Set<Int>()
    var placed = 0
    for nodes in where_ {
      guard nodes.allSatisfy({ $0 != nil }) else {
        sets.append(nil)
        continue
      }
      let set = nodes.map { $0! }
      used.formUnion(set)
      placed += set.count
      sets.append(set)
    }
    return InstancePlan(
      nodesUsed: used.count, lowerBound: instance.lowerBound, slotsPlaced: placed, sets: sets)
  }
}

extension OfflinePacking {
  /// The repack (`Repack`) of an instance: every set at once, nodes filled one after another
  /// with the fullest combination of what is left.
  public static func repack(_ instance: PlacementInstance) throws(PlacementError) -> InstancePlan {
    try instance.validate()
    let sets = instance.sets.map { SetRequest(count: $0.count, demand: $0[0].resources) }
    let targets = (0..<instance.nodes).map {
      Repack.Target(id: NodeID(String($0)), capacity: instance.node.resources, ports: 65535)
    }
    guard let plan = Repack.plan(sets, on: targets) else {
      return InstancePlan(
        nodesUsed: 0, lowerBound: instance.lowerBound, slotsPlaced: 0,
        sets: instance.sets.map { _ in nil })
    }
    let numbered = plan.map { $0.map { Int($0.rawValue)! } }
    return InstancePlan(
      nodesUsed: Set(numbered.joined()).count, lowerBound: instance.lowerBound,
      slotsPlaced: numbered.joined().count, sets: numbered)
  }
}
