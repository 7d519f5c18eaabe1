import SchedModel

/// A placement problem to solve offline, in a format other tools can read and write:
/// `nodes` identical nodes of size `node`, and `sets` placed in order, each a list of identical
/// slots that go all or nothing.
public struct PlacementInstance: Codable, Sendable, Hashable {
  /// CPU and memory of a node or of a slot, in the units people write.
  public struct Size: Codable, Sendable, Hashable {
    public var cpuMillicores: Int64
    public var memoryMiB: Int64

    public init(cpuMillicores: Int64, memoryMiB: Int64) {
      self.cpuMillicores = cpuMillicores
      self.memoryMiB = memoryMiB
    }

    enum CodingKeys: String, CodingKey {
      case cpuMillicores = "cpu_millicores"
      case memoryMiB = "memory_mib"
    }

    var resources: Resources { Resources(cpuMillis: cpuMillicores, memoryBytes: memoryMiB << 20) }
  }

  public var node: Size
  public var nodes: Int
  public var sets: [[Size]]

  public init(node: Size, nodes: Int, sets: [[Size]]) {
    self.node = node
    self.nodes = nodes
    self.sets = sets
  }

  /// The fewest nodes any placement could use: max over dimensions of ceil(total / node).
  public var lowerBound: Int {
    var cpu: Int64 = 0
    var memory: Int64 = 0
    for slot in sets.joined() {
      cpu += slot.cpuMillicores
      memory += slot.memoryMiB
    }
    func ceilDiv(_ a: Int64, _ b: Int64) -> Int { b > 0 ? Int((a + b - 1) / b) : 0 }
    return max(ceilDiv(cpu, node.cpuMillicores), ceilDiv(memory, node.memoryMiB))
  }

  /// Says what is wrong with the instance, naming the field, or nothing.
  public func validate() throws(PlacementError) {
    guard node.cpuMillicores > 0, node.memoryMiB > 0 else {
      throw PlacementError(
        .invalidRequest, "node: cpu_millicores and memory_mib must both be above 0")
    }
    guard (1...1_000_000).contains(nodes) else {
      throw PlacementError(.invalidRequest, "nodes: give 1 to 1000000 nodes, got \(nodes)")
    }
    for (number, set) in sets.enumerated() {
      guard let first = set.first else {
        throw PlacementError(.invalidRequest, "sets[\(number)] is empty: a set has 1 slot or more")
      }
      guard set.allSatisfy({ $0 == first }) else {
        throw PlacementError(
          .invalidRequest,
          "sets[\(number)] mixes slot sizes: a set is a list of identical slots; split it into sets of one size"
        )
      }
      guard first.cpuMillicores > 0, first.memoryMiB > 0 else {
        throw PlacementError(
          .invalidRequest, "sets[\(number)]: cpu_millicores and memory_mib must both be above 0")
      }
      guard set.count <= AppSpec.maxSlots, first.resources.fits(in: AppSpec.maxDemand) else {
        throw PlacementError(
          .invalidRequest,
          "sets[\(number)]: a set has at most \(AppSpec.maxSlots) slots of at most \(AppSpec.maxDemand.cpuMillis) millicores and \(AppSpec.maxDemand.memoryBytes >> 20) MiB each"
        )
      }
    }
  }
}

/// Where each slot of an instance went.
public struct InstancePlan: Codable, Sendable, Hashable {
  /// Nodes holding at least one slot.
  public var nodesUsed: Int
  /// `PlacementInstance.lowerBound`.
  public var lowerBound: Int
  public var slotsPlaced: Int
  /// For each set in order, the node (0 to nodes - 1) of each slot; nil for a set that fits
  /// nowhere (it places nothing).
  public var sets: [[Int]?]

  enum CodingKeys: String, CodingKey {
    case nodesUsed = "nodes_used"
    case lowerBound = "lower_bound"
    case slotsPlaced = "slots_placed"
    case sets
  }

  /// The sets that were not placed.
  public var unplacedSets: [Int] { sets.indices.filter { sets[$0] == nil } }
}

/// Places an instance online, set after set, as the scheduler would (`PlacementCluster`).
public enum InstancePlanner {
  public static func plan(_ instance: PlacementInstance, rule: PlacementRule = .aligned)
    throws(PlacementError) -> InstancePlan
  {
    try instance.validate()
    let width = String(instance.nodes - 1).count
    func name(_ number: Int) -> NodeID {
      let digits = String(number)
      return NodeID(String(repeating: "0", count: width - digits.count) + digits)
    }
    let ports = try! PortRange(low: 1, high: 65535)
    var cluster = PlacementCluster(
      (0..<instance.nodes).map {
        PlacementNode(id: name($0), capacity: instance.node.resources, ports: ports)
      })
    var sets: [[Int]?] = []
    var used = Set<Int>()
    var placed = 0
    for set in instance.sets {
      let demand = set[0].resources
      // Slots of a set may share a node without limit offline, up to the port range.
      let request = SetRequest(count: set.count, demand: demand)
      guard case .placed(let slots) = try cluster.place(request, rule: rule, explain: false)
      else {
        sets.append(nil)
        continue
      }
      cluster.commit(slots, demand: demand)
      let nodes = slots.map { Int($0.node.rawValue)! }
      used.formUnion(nodes)
      placed += nodes.count
      sets.append(nodes)
    }
    return InstancePlan(
      nodesUsed: used.count, lowerBound: instance.lowerBound, slotsPlaced: placed, sets: sets)
  }
}

extension PlacementInstance {
  /// What is wrong with `plan` as a plan of this instance (a set with the wrong number of
  /// slots, a node out of range or over its CPU or memory, a wrong count), or nil when it holds.
  public func problem(with plan: InstancePlan) -> String? {
    guard plan.sets.count == sets.count else {
      return "the plan has \(plan.sets.count) sets, the instance \(sets.count)"
    }
    var cpu = [Int64](repeating: 0, count: nodes)
    var memory = [Int64](repeating: 0, count: nodes)
    var placed = 0
    for (number, placedSet) in plan.sets.enumerated() {
      guard let placedSet else { continue }
      guard placedSet.count == sets[number].count else {
        return "sets[\(number)] has \(placedSet.count) slots placed of \(sets[number].count)"
      }
      for (slot, node) in zip(sets[number], placedSet) {
        guard (0..<nodes).contains(node) else { return "sets[\(number)] names node \(node)" }
        cpu[node] += slot.cpuMillicores
        memory[node] += slot.memoryMiB
      }
      placed += placedSet.count
    }
    if let over = (0..<nodes).first(where: {
      cpu[$0] > node.cpuMillicores || memory[$0] > node.memoryMiB
    }) {
      return
        "node \(over) holds \(cpu[over])m and \(memory[over]) MiB, over its \(node.cpuMillicores)m and \(node.memoryMiB) MiB"
    }
    let used = (0..<nodes).filter { cpu[$0] > 0 }.count
    guard used == plan.nodesUsed, placed == plan.slotsPlaced else {
      return
        "the plan says \(plan.nodesUsed) nodes and \(plan.slotsPlaced) slots; it has \(used) and \(placed)"
    }
    return nil
  }
}
