import SchedModel

/// The cluster as placement sees it, kept current one change at a time: every node's capacity,
/// what slots hold on it, its host ports as a free list, its labels, and the ready ones indexed
/// by free room (`FreeIndex`). Placing a set reads it without copying it; a node whose usage
/// changes moves in the index and nothing else is touched. Pure, a value.
public struct PlacementCluster: Sendable {
  struct Entry: Sendable {
    var id: NodeID
    var state: NodeState
    var capacity: Resources
    var allocated: Resources
    var labels: [String: String]
    var ports: PortSet
    /// Its class in the index; nil when it is not placed on (down, or no capacity).
    var freeClass: Int?

    var free: Resources { capacity - allocated }
    var key: FreeIndex.ClassKey { .init(capacity: capacity, free: free) }
    var indexable: Bool { state == .ready && capacity.cpuMillis > 0 && capacity.memoryBytes > 0 }
  }

  private(set) var entries = Recycled<Entry>()
  private(set) var positions: [NodeID: Int] = [:]
  private(set) var index = FreeIndex()
  /// Capacity and allocations summed over the indexed nodes (ready, with capacity): the
  /// cluster's demand by resource, kept with the index.
  private(set) var indexedCapacity = Resources.zero
  private(set) var indexedAllocated = Resources.zero

  /// A cluster of these nodes (their `sameSetSlots` is a property of a request, not kept).
  public init(_ nodes: some Sequence<PlacementNode> = [PlacementNode]()) {
    for node in nodes { upsert(node) }
  }

  /// How many nodes it holds.
  public var count: Int { positions.count }

  /// Node ids, in order.
  public var ids: [NodeID] { positions.keys.sorted() }

  /// The node as a snapshot, nil when unknown.
  public func node(_ id: NodeID) -> PlacementNode? {
    guard let position = positions[id] else { return nil }
    return snapshot(position, sameSetSlots: 0)
  }

  /// Every node as a snapshot, in id order, with `sameSet` slots of a set counted on each.
  public func nodes(sameSet: [NodeID: Int] = [:]) -> [PlacementNode] {
    positions.sorted { $0.key < $1.key }.map {
      snapshot($0.value, sameSetSlots: sameSet[$0.key] ?? 0)
    }
  }

  /// Adds the node, or replaces everything known about it (capacity, state, labels, ports,
  /// what is allocated and which ports are held).
  public mutating func upsert(_ node: PlacementNode) {
    let entry = Entry(
      id: node.id, state: node.state, capacity: node.capacity, allocated: node.allocated,
      labels: node.labels, ports: PortSet(range: node.ports, used: node.usedPorts), freeClass: nil)
    if let position = positions[node.id] {
      unindex(position)
      entries[position] = entry
      reindex(position)
    } else {
      let position = entries.add(entry)
      positions[node.id] = position
      reindex(position)
    }
  }

  /// Forgets the node.
  public mutating func remove(_ id: NodeID) {
    guard let position = positions.removeValue(forKey: id) else { return }
    unindex(position)
    entries[position].labels = [:]
    entries.free(position)
  }

  /// Marks the node ready or down, keeping what it holds.
  public mutating func setState(_ state: NodeState, of id: NodeID) {
    update(id) { $0.state = state }
  }

  /// A slot (or anything else that holds room, such as a test container) takes `resources`
  /// and, when given, `port` on the node.
  public mutating func allocate(_ resources: Resources, port: Int? = nil, on id: NodeID) {
    update(id) { entry in
      entry.allocated = entry.allocated + resources
      if let port { entry.ports.insert(port) }
    }
  }

  /// What `allocate` took goes back.
  public mutating func release(_ resources: Resources, port: Int? = nil, on id: NodeID) {
    update(id) { entry in
      entry.allocated = entry.allocated - resources
      if let port { entry.ports.remove(port) }
    }
  }

  /// Takes what a placed set holds: `demand` and the port of each slot.
  public mutating func commit(_ slots: [PlannedSlot], demand: Resources) {
    for slot in slots { allocate(demand, port: slot.hostPort, on: slot.node) }
  }

  // MARK: private

  private mutating func update(_ id: NodeID, _ change: (inout Entry) -> Void) {
    guard let position = positions[id] else { return }
    let before = entries[position].key
    change(&entries[position])
    let entry = entries[position]
    // Only a node whose class changes moves: out of the old one, into the new.
    if entry.freeClass != nil, entry.indexable, entry.key == before { return }
    unindex(position)
    reindex(position)
  }

  private mutating func unindex(_ position: Int) {
    guard let freeClass = entries[position].freeClass else { return }
    // What was added when it was indexed: the entry itself may have changed since.
    let key = index.classes[freeClass].key
    indexedCapacity = indexedCapacity - key.capacity
    indexedAllocated = indexedAllocated - (key.capacity - key.free)
    index.remove(entries[position].id, position: position, fromClass: freeClass)
    entries[position].freeClass = nil
  }

  private mutating func reindex(_ position: Int) {
    let entry = entries[position]
    guard entry.indexable else { return }
    entries[position].freeClass = index.insert(entry.id, position: position, key: entry.key)
    indexedCapacity = indexedCapacity + entry.capacity
    indexedAllocated = indexedAllocated + entry.allocated
  }

  func snapshot(_ position: Int, sameSetSlots: Int) -> PlacementNode {
    let entry = entries[position]
    return PlacementNode(
      id: entry.id, state: entry.state, capacity: entry.capacity, allocated: entry.allocated,
      ports: entry.ports.range, usedPorts: Set(entry.ports.held), labels: entry.labels,
      sameSetSlots: sameSetSlots)
  }
}
