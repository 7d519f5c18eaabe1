import Placement
import SchedModel

/// Placement's picture of the cluster, kept beside the decisions instead of made afresh for
/// each one: what slots and test runs hold on each node changes as they are recorded, and the
/// nodes' own facts (capacity, ports, labels, state) are read again from what is observed only
/// when the scheduler says they changed (`Observed.nodesRevision`; without one, every time).
struct PlacementView: Sendable {
  /// What is held on one node: resources, and each host port with how many holders.
  struct Held: Sendable {
    var resources = Resources.zero
    var ports: [Int: Int] = [:]
  }

  /// What placement reads of a node itself.
  struct Facts: Equatable, Sendable {
    var state: NodeState
    var capacity: Resources
    var ports: PortRange
    var labels: [String: String]

    init(_ node: Node) {
      state = node.state
      capacity = node.spec.capacity
      ports = node.spec.ports
      labels = node.spec.labels
    }
  }

  private(set) var cluster = PlacementCluster()
  private var held: [NodeID: Held] = [:]
  private var facts: [NodeID: Facts] = [:]
  /// The revision of the nodes last read; nil before the first read.
  private var revision: Int??

  /// Reads the nodes' facts again when they may have changed; only a node that did is updated.
  mutating func sync(_ observed: Observed) {
    if let revision, let now = observed.nodesRevision, revision == now { return }
    revision = .some(observed.nodesRevision)
    for (id, node) in observed.nodes {
      let read = Facts(node)
      guard facts[id] != read else { continue }
      facts[id] = read
      let here = held[id] ?? Held()
      cluster.upsert(
        PlacementNode(
          id: id, state: read.state, capacity: read.capacity, allocated: here.resources,
          ports: read.ports, usedPorts: Set(here.ports.keys), labels: read.labels))
    }
    if facts.count != observed.nodes.count {
      for id in facts.keys where observed.nodes[id] == nil {
        facts[id] = nil
        cluster.remove(id)
      }
    }
  }

  /// `resources` (and `port`) are held on `node` from now on.
  mutating func hold(_ resources: Resources, port: Int?, on node: NodeID) {
    held[node, default: Held()].resources = held[node, default: Held()].resources + resources
    if let port { held[node, default: Held()].ports[port, default: 0] += 1 }
    cluster.allocate(resources, port: port, on: node)
  }

  /// What `hold` took goes back; a port two holders shared stays held by the other.
  mutating func release(_ resources: Resources, port: Int?, on node: NodeID) {
    guard var here = held[node] else { return }
    here.resources = here.resources - resources
    var freesPort: Int?
    if let port, let holders = here.ports[port] {
      here.ports[port] = holders > 1 ? holders - 1 : nil
      if holders == 1 { freesPort = port }
    }
    held[node] = here.resources == .zero && here.ports.isEmpty ? nil : here
    cluster.release(resources, port: freesPort, on: node)
  }

  mutating func hold(_ allocation: Allocation) {
    hold(allocation.resources, port: allocation.hostPort, on: allocation.node)
  }

  mutating func release(_ allocation: Allocation) {
    release(allocation.resources, port: allocation.hostPort, on: allocation.node)
  }

  /// Places `request` as if `releasing` were not held (the slots a set replaces make room).
  mutating func place(
    _ request: SetRequest, sameSet: [NodeID: Int] = [:], releasing: [Allocation] = []
  ) throws(PlacementError) -> PlacementResult {
    for allocation in releasing { release(allocation) }
    defer { for allocation in releasing { hold(allocation) } }
    return try cluster.place(request, sameSet: sameSet)
  }

  /// Places `request` on exactly `nodes` (one per slot), as if `releasing` were not held.
  mutating func placePinned(
    _ request: SetRequest, on nodes: [NodeID], releasing: [Allocation] = []
  ) throws(PlacementError) -> [PlannedSlot] {
    for allocation in releasing { release(allocation) }
    defer { for allocation in releasing { hold(allocation) } }
    return try cluster.placePinned(request, on: nodes)
  }
}
