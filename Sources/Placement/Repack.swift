import SchedModel

/// Placement of many sets at once, with the whole picture, on as few nodes as it can: the
/// nodes are filled one after another, each with the fullest combination of the slots still to
/// place (`FillSearch`), where online placement sees one set at a time and can never take back
/// a choice. What `schedctl rebalance --plan` proposes, and the offline row of the packing
/// benchmark.
public enum Repack {
  /// A node slots may go to.
  public struct Target: Sendable, Hashable {
    public var id: NodeID
    public var capacity: Resources
    public var labels: [String: String]
    /// Host ports it has for slots (its whole range: the repack moves every slot).
    public var ports: Int
    /// What it holds now; of two nodes of one size the fuller is filled first, so fewer slots
    /// move.
    public var heldNow: Resources

    public init(
      id: NodeID, capacity: Resources, labels: [String: String] = [:], ports: Int,
      heldNow: Resources = .zero
    ) {
      self.id = id
      self.capacity = capacity
      self.labels = labels
      self.ports = ports
      self.heldNow = heldNow
    }
  }

  /// Slots that may stand in for each other: same size and labels, and either no per-node
  /// limit (sets merged) or one set with its limit.
  struct Kind: Hashable {
    var demand: Resources
    var labels: [String: String]
    /// The set with a per-node limit; nil when the kind merges sets without one.
    var limitedSet: Int?
  }

  /// For each of `sets`, the node of each slot; nil when not every set fits on `nodes`.
  /// Deterministic: the same input gives the same plan.
  public static func plan(_ sets: [SetRequest], on nodes: [Target]) -> [[NodeID]]? {
    guard !sets.isEmpty else { return [] }
    var kinds: [Kind: Int] = [:]
    var kindList: [Kind] = []
    var setsOfKind: [[Int]] = []
    var left: [Int] = []
    for (number, set) in sets.enumerated() {
      let kind = Kind(
        demand: set.demand, labels: set.requiredLabels,
        limitedSet: set.maxPerNode == nil ? nil : number)
      let index =
        kinds[kind]
        ?? {
          kinds[kind] = kindList.count
          kindList.append(kind)
          setsOfKind.append([])
          left.append(0)
          return kindList.count - 1
        }()
      setsOfKind[index].append(number)
      left[index] += set.count
    }
    let grid = Grid(nodes: nodes.map(\.capacity), demands: kindList.map(\.demand))
    let order = nodes.indices.sorted { a, b in
      let (x, y) = (nodes[a], nodes[b])
      if x.capacity != y.capacity {
        return x.capacity.cpuMillis + x.capacity.memoryBytes / (1 << 20)
          > y.capacity.cpuMillis + y.capacity.memoryBytes / (1 << 20)
      }
      let (heldX, heldY) = (
        grid.share(x.heldNow, of: x.capacity), grid.share(y.heldNow, of: y.capacity)
      )
      return heldX != heldY ? heldX > heldY : x.id < y.id
    }
    // Both dimensions weighed alike first; when that strands slots, the scarcer one counts
    // for more (what is left to place over the room left on the nodes not yet filled).
    guard
      let taken = fill(kindList, left, sets, nodes, order, grid, scarce: false)
        ?? fill(kindList, left, sets, nodes, order, grid, scarce: true)
    else { return nil }
    // Each kind's slots, node by node, to its sets in order.
    var plan: [[NodeID]] = sets.map { _ in [] }
    for (kind, members) in setsOfKind.enumerated() {
      var places = taken[kind].makeIterator()
      var current = places.next()
      for set in members {
        while plan[set].count < sets[set].count, let place = current {
          plan[set].append(nodes[place.node].id)
          current = place.count > 1 ? (place.node, place.count - 1) : places.next()
        }
      }
    }
    return plan
  }

  /// Fills the nodes in `order`, each with the fullest combination of what is left; for each
  /// kind, how many of its slots each node takes, or nil when slots are left over.
  private static func fill(
    _ kindList: [Kind], _ stockLeft: [Int], _ sets: [SetRequest], _ nodes: [Target],
    _ order: [Int], _ grid: Grid, scarce: Bool
  ) -> [[(node: Int, count: Int)]]? {
    var left = stockLeft
    var searches: [FillSearch.Units: FillSearch] = [:]
    // For each kind, how many of its slots each node takes, in fill order.
    var taken: [[(node: Int, count: Int)]] = Array(repeating: [], count: kindList.count)
    var remaining = left.reduce(0, +)
    var roomLeft = (cpu: 0.0, memory: 0.0)
    for node in nodes {
      roomLeft.cpu += Double(node.capacity.cpuMillis)
      roomLeft.memory += Double(node.capacity.memoryBytes)
    }
    for position in order where remaining > 0 {
      let node = nodes[position]
      defer {
        roomLeft.cpu -= Double(node.capacity.cpuMillis)
        roomLeft.memory -= Double(node.capacity.memoryBytes)
      }
      let capacity = grid.units(of: node.capacity)
      var stock: [FillSearch.Stock] = []
      for (index, kind) in kindList.enumerated() where left[index] > 0 {
        guard kind.labels.allSatisfy({ node.labels[$0.key] == $0.value }) else { continue }
        let limit = kind.limitedSet.flatMap { sets[$0].maxPerNode } ?? left[index]
        stock.append(
          .init(
            kind: index, size: grid.units(of: kind.demand, roundingUp: true),
            count: min(left[index], limit, node.ports)))
      }
      guard !stock.isEmpty else { continue }
      var weight = (cpu: 1.0, memory: 1.0)
      if scarce {
        var demand = (cpu: 0.0, memory: 0.0)
        for (index, kind) in kindList.enumerated() where left[index] > 0 {
          demand.cpu += Double(kind.demand.cpuMillis) * Double(left[index])
          demand.memory += Double(kind.demand.memoryBytes) * Double(left[index])
        }
        weight = (demand.cpu / roomLeft.cpu, demand.memory / roomLeft.memory)
      }
      var search = searches[capacity] ?? FillSearch(capacity: capacity)
      var chosen = search.fullest(stock) { state in
        weight.cpu * Double(state.cpu) / Double(capacity.cpu) + weight.memory
          * Double(state.memory) / Double(capacity.memory)
      }
      searches[capacity] = search
      // More slots than host ports: the smallest give way.
      var count = chosen.values.reduce(0, +)
      for kind in chosen.keys.sorted(by: {
        grid.weight(kindList[$0].demand) < grid.weight(kindList[$1].demand)
      })
      where count > node.ports {
        let drop = min(chosen[kind]!, count - node.ports)
        chosen[kind]! -= drop
        count -= drop
      }
      for (kind, count) in chosen where count > 0 {
        taken[kind].append((position, count))
        left[kind] -= count
        remaining -= count
      }
    }
    return remaining == 0 ? taken : nil
  }

  /// The units both dimensions are counted in: the largest that divides every capacity and
  /// demand exactly, or, when a node would then be more than `maxUnits` long, a node's length
  /// over `maxUnits` (demands rounded up, capacities down: a plan never overfills a node).
  struct Grid {
    static let maxUnits: Int64 = 256
    let cpu: Int64
    let memory: Int64

    init(nodes: [Resources], demands: [Resources]) {
      func unit(_ values: [Int64]) -> Int64 {
        let largest = values.max() ?? 1
        let common = values.reduce(0) { gcd($0, $1) }
        return max(common, (largest + Self.maxUnits - 1) / Self.maxUnits, 1)
      }
      cpu = unit(nodes.map(\.cpuMillis) + demands.map(\.cpuMillis))
      memory = unit(nodes.map(\.memoryBytes) + demands.map(\.memoryBytes))
    }

    func units(of resources: Resources, roundingUp: Bool = false) -> FillSearch.Units {
      if roundingUp {
        return .init(
          cpu: Int(max(1, (resources.cpuMillis + cpu - 1) / cpu)),
          memory: Int(max(1, (resources.memoryBytes + memory - 1) / memory)))
      }
      return .init(cpu: Int(resources.cpuMillis / cpu), memory: Int(resources.memoryBytes / memory))
    }

    /// A slot's size in grid units, both dimensions summed (for which slots give way first).
    func weight(_ demand: Resources) -> Int {
      let size = units(of: demand, roundingUp: true)
      return size.cpu + size.memory
    }

    func share(_ held: Resources, of capacity: Resources) -> Double {
      Double(held.cpuMillis) / Double(max(capacity.cpuMillis, 1)) + Double(held.memoryBytes)
        / Double(max(capacity.memoryBytes, 1))
    }
  }
}

private func gcd(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? a : gcd(b, a % b) }
