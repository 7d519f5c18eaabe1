import SchedModel

/// How a node is chosen for each slot.
public enum PlacementRule: String, Sendable, CaseIterable {
  /// Best fit (Nomad's BestFit-v3): the node fullest after taking the slot. The scheduler's
  /// rule before `aligned`, kept as the reference.
  case bestFit = "best-fit"
  /// Best fit, steered by shape: of the 8 nodes best fit ranks first, the one in use whose
  /// free room points most the slot's way (CPU against memory), so a CPU-heavy slot goes where
  /// memory-heavy ones left CPU free and the other way round; an empty node only when no node
  /// in use is among them. When the cluster's demand is lopsided (one resource's share of the
  /// ready nodes 1.4 times the other's or more, with the set), it places as best fit: that
  /// resource runs out first whatever the shapes. Fewer nodes than best fit on mixed and
  /// perfect-fit workloads, as many on lopsided ones (BENCHMARKS.md, the packing benchmark).
  case aligned
}

extension PlacementCluster {
  /// Places a set of identical slots, all or nothing, by `rule`: the slots' nodes and host
  /// ports, or why the set does not fit. The cluster is as it was afterwards: a plan is taken
  /// with `commit`.
  public func place(
    _ request: SetRequest, sameSet: [NodeID: Int] = [:], rule: PlacementRule = .aligned,
    explain: Bool = true
  ) throws(PlacementError) -> PlacementResult {
    try request.validate()
    let planned =
      switch rule {
      case .bestFit: bestFit(request, sameSet: sameSet)
      case .aligned: aligned(request, sameSet: sameSet)
      }
    if let planned { return .placed(planned) }
    guard explain else { return .unplaced([]) }
    // It does not fit: the pass over every node says why, slot by slot.
    return try ReferencePlacer.place(request, on: nodes(sameSet: sameSet))
  }

  /// Best fit: the same plan as `ReferencePlacer` on the same nodes, found through the
  /// free-room index.
  ///
  /// For identical slots best fit is an order over nodes fixed before the first slot: a node
  /// that takes a slot only gets fuller, so it scores higher still for the next one and keeps
  /// taking them until it is full, and no other node's score moves. The search hands out nodes
  /// best score first (ties to the lowest id) and each takes as many slots as it can. `sameSet`
  /// counts the set's slots already on a node, for the per-node limit. Nil: it does not fit.
  func bestFit(_ request: SetRequest, sameSet: [NodeID: Int]) -> [PlannedSlot]? {
    var search = BestFitSearch(index, demand: request.demand)
    var planned: [PlannedSlot] = []
    planned.reserveCapacity(request.count)
    while planned.count < request.count, let (position, _) = search.next() {
      let entry = entries[position]
      let fits = Self.slotsFitting(on: entry, request, sameSet: sameSet[entry.id] ?? 0)
      guard fits > 0 else { continue }
      for port in entry.ports.lowestFree(min(fits, request.count - planned.count)) {
        planned.append(PlannedSlot(index: planned.count, node: entry.id, hostPort: port))
      }
    }
    return planned.count == request.count ? planned : nil
  }

  /// How many slots of the request a ready node with room for at least one could take.
  static func slotsFitting(on entry: Entry, _ request: SetRequest, sameSet: Int) -> Int {
    if !request.avoiding.isEmpty, request.avoiding.contains(entry.id) { return 0 }
    for (key, value) in request.requiredLabels where entry.labels[key] != value { return 0 }
    var fits = entry.ports.freeCount
    if let limit = request.maxPerNode { fits = min(fits, limit - sameSet) }
    let free = entry.free
    fits = min(fits, Int(free.cpuMillis / request.demand.cpuMillis))
    return min(fits, Int(free.memoryBytes / request.demand.memoryBytes))
  }
}

extension PlacementCluster {
  /// Places the set on exactly `nodes`, one per slot in slot order (a rebalance carrying out
  /// its plan), each with its lowest free host ports; throws `doesNotFit` naming the first
  /// node that cannot take its share now. The cluster is as it was afterwards.
  public func placePinned(
    _ request: SetRequest, on nodes: [NodeID], sameSet: [NodeID: Int] = [:]
  ) throws(PlacementError) -> [PlannedSlot] {
    try request.validate()
    guard nodes.count == request.count else {
      throw PlacementError(
        .invalidRequest, "\(nodes.count) nodes given for a set of \(request.count) slots")
    }
    var counts: [NodeID: Int] = [:]
    for node in nodes { counts[node, default: 0] += 1 }
    var ports: [NodeID: [Int]] = [:]
    for (id, count) in counts.sorted(by: { $0.key < $1.key }) {
      guard let position = positions[id] else {
        throw PlacementError(.doesNotFit, "node \(id) is not in the cluster")
      }
      let entry = entries[position]
      guard entry.state == .ready else { throw PlacementError(.doesNotFit, "node \(id) is down") }
      let fits = Self.slotsFitting(on: entry, request, sameSet: sameSet[id] ?? 0)
      guard fits >= count else {
        let short = Feasibility.rejections(
          of: snapshot(position, sameSetSlots: sameSet[id] ?? 0), for: request
        )
        .map(\.rawValue).joined(separator: ", ")
        throw PlacementError(
          .doesNotFit,
          "node \(id) has room for \(max(fits, 0)) of the \(count) slots planned there now\(short.isEmpty ? "" : " (\(short))")"
        )
      }
      ports[id] = entry.ports.lowestFree(count)
    }
    return nodes.enumerated().map { index, node in
      PlannedSlot(index: index, node: node, hostPort: ports[node]!.removeFirst())
    }
  }
}

/// Ready nodes with room for one more slot, best fit first (ties to the lowest id): grid cells
/// are opened best bound first, each opened class is a candidate, and a candidate is handed out
/// only once no unopened cell could hold a better one.
struct BestFitSearch {
  struct Cell: Comparable {
    var bound: Double
    var bucket: Int
    static func < (a: Cell, b: Cell) -> Bool { a.bound < b.bound }
  }

  /// The next node of a class, with the class's score; greater is better.
  struct Candidate: Comparable {
    var score: Double
    var id: NodeID
    var freeClass: Int
    var cursor: Int
    static func < (a: Candidate, b: Candidate) -> Bool {
      a.score != b.score ? a.score < b.score : a.id > b.id
    }
  }

  let index: FreeIndex
  let demand: Resources
  private var cells: MaxHeap<Cell>
  private var candidates = MaxHeap<Candidate>()

  init(_ index: FreeIndex, demand: Resources) {
    self.index = index
    self.demand = demand
    var cells: [Cell] = []
    cells.reserveCapacity(index.occupied.count)
    for bucket in index.occupied where ScoreBound.mayFit(bucket, of: index, demand: demand) {
      cells.append(Cell(bound: ScoreBound.best(bucket, of: index, demand: demand), bucket: bucket))
    }
    self.cells = MaxHeap(cells)
  }

  /// The next node's position in the cluster and its score, nil when none is left.
  mutating func next() -> (position: Int, score: Double)? {
    while let cell = cells.max, candidates.max.map({ $0.score <= cell.bound }) ?? true {
      _ = cells.popMax()
      open(cell.bucket)
    }
    guard let best = candidates.popMax() else { return nil }
    let nodes = index.classes[best.freeClass].nodes
    if best.cursor + 1 < nodes.count {
      var following = best
      following.cursor += 1
      following.id = nodes[following.cursor].id
      candidates.insert(following)
    }
    return (nodes[best.cursor].position, best.score)
  }

  private mutating func open(_ bucket: Int) {
    for freeClass in index.buckets[bucket].classes {
      let key = index.classes[freeClass].key
      guard demand.fits(in: key.free) else { continue }
      let score = Scoring.bestFit(
        capacity: key.capacity, used: key.capacity - key.free + demand)
      candidates.insert(
        Candidate(
          score: score, id: index.classes[freeClass].nodes[0].id, freeClass: freeClass, cursor: 0))
    }
  }
}
