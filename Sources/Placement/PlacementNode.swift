import SchedModel

/// What placement needs to know of a node: a snapshot, no references back into live state.
public struct PlacementNode: Sendable, Hashable {
  public var id: NodeID
  public var state: NodeState
  public var capacity: Resources
  /// Reserved by slots already placed here.
  public var allocated: Resources
  public var ports: PortRange
  public var usedPorts: Set<Int>
  public var labels: [String: String]
  /// Slots of the set being placed that already sit here (for at-most-K-per-node).
  public var sameSetSlots: Int

  public init(
    id: NodeID, state: NodeState = .ready, capacity: Resources, allocated: Resources = .zero,
    ports: PortRange, usedPorts: Set<Int> = [], labels: [String: String] = [:],
    sameSetSlots: Int = 0
  ) {
    self.id = id
    self.state = state
    self.capacity = capacity
    self.allocated = allocated
    self.ports = ports
    self.usedPorts = usedPorts
    self.labels = labels
    self.sameSetSlots = sameSetSlots
  }

  /// Each node with what the `allocations` on it hold and the ports they use: placement's
  /// input from the scheduler's state.
  public static func nodes(
    _ nodes: [Node], allocations: some Sequence<Allocation>
  ) -> [PlacementNode] {
    let byNode = Dictionary(grouping: allocations, by: \.node)
    return nodes.map { node in
      let here = byNode[node.id] ?? []
      return PlacementNode(
        id: node.id, state: node.state, capacity: node.spec.capacity,
        allocated: here.reduce(Resources.zero) { $0 + $1.resources }, ports: node.spec.ports,
        usedPorts: Set(here.map(\.hostPort)), labels: node.spec.labels)
    }
  }

  public var free: Resources { capacity - allocated }

  /// The lowest port of the node's range that no slot holds.
  public var firstFreePort: Int? {
    (ports.low...ports.high).first { !usedPorts.contains($0) }
  }
}
