import SchedModel

extension PlacementCluster {
  /// How many of best fit's first nodes `aligned` weighs.
  static let alignedCandidates = 8
  /// How much more of one resource than of the other the cluster may hold, as shares of its
  /// capacity, before `aligned` places as best fit: past it, one resource runs out first
  /// whatever the shapes, and packing that one tight (best fit) is what saves nodes.
  static let lopsidedDemand = 1.4

  /// `PlacementRule.aligned`, slot by slot. Best fit's first candidates are kept in a pool as
  /// the set is placed: a node that takes a slot only climbs in best fit's order and no other
  /// node moves, so the pool stays best fit's first candidates with one search per set; a node
  /// leaves it when full, and the search hands out the next. Nil: the set does not fit.
  func aligned(_ request: SetRequest, sameSet: [NodeID: Int]) -> [PlannedSlot]? {
    if demandIsLopsided(with: request) { return bestFit(request, sameSet: sameSet) }
    var pool = AlignedPool(cluster: self, request: request, sameSet: sameSet)
    var planned: [PlannedSlot] = []
    planned.reserveCapacity(request.count)
    while planned.count < request.count {
      guard let chosen = pool.choose() else { return nil }
      let entry = entries[chosen.position]
      let ports = entry.ports.lowestFree(chosen.taken + 1)
      guard ports.count == chosen.taken + 1 else { return nil }
      planned.append(PlannedSlot(index: planned.count, node: entry.id, hostPort: ports.last!))
      pool.took(chosen.position)
    }
    return planned
  }

  /// Whether, with the set placed, the ready nodes would hold `lopsidedDemand` times as large a
  /// share of one resource as of the other, or more.
  func demandIsLopsided(with request: SetRequest) -> Bool {
    let held = indexedAllocated + request.demand * request.count
    guard indexedCapacity.cpuMillis > 0, indexedCapacity.memoryBytes > 0 else { return false }
    let cpu = Double(held.cpuMillis) / Double(indexedCapacity.cpuMillis)
    let memory = Double(held.memoryBytes) / Double(indexedCapacity.memoryBytes)
    return max(cpu, memory) > 0 && max(cpu, memory) >= Self.lopsidedDemand * min(cpu, memory)
  }
}

/// Best fit's first nodes with room for the next slot of a set, and what the set took of each.
struct AlignedPool {
  struct Member {
    var position: Int
    var id: NodeID
    var score: Double
    /// Slots of this set it took so far.
    var taken: Int
  }

  let cluster: PlacementCluster
  let request: SetRequest
  let sameSet: [NodeID: Int]
  private var search: BestFitSearch
  /// In best fit's order: score down, then id up.
  private var members: [Member] = []
  private var exhausted = false

  init(cluster: PlacementCluster, request: SetRequest, sameSet: [NodeID: Int]) {
    self.cluster = cluster
    self.request = request
    self.sameSet = sameSet
    self.search = BestFitSearch(cluster.index, demand: request.demand)
  }

  /// The node for the next slot and how many the set already put there: of the pool, the node
  /// in use whose free room is most aligned with the slot (ties to best fit's order); best
  /// fit's first when none is in use.
  mutating func choose() -> Member? {
    refill()
    guard let first = members.first else { return nil }
    var chosen: (member: Member, alignment: Double)?
    for member in members {
      let entry = cluster.entries[member.position]
      let held = entry.allocated + request.demand * member.taken
      guard held != .zero else { continue }
      let alignment = Scoring.alignment(
        free: entry.capacity - held, capacity: entry.capacity, request.demand)
      if chosen == nil || alignment > chosen!.alignment { chosen = (member, alignment) }
    }
    return chosen?.member ?? first
  }

  /// The node at `position` took one more slot: it climbs, or leaves the pool when full.
  mutating func took(_ position: Int) {
    guard let index = members.firstIndex(where: { $0.position == position }) else { return }
    members[index].taken += 1
    let member = members[index]
    let entry = cluster.entries[position]
    guard room(entry, taken: member.taken) > 0 else {
      members.remove(at: index)
      return
    }
    members[index].score = Scoring.bestFit(
      capacity: entry.capacity, used: entry.allocated + request.demand * (member.taken + 1))
    members.sort { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
  }

  private mutating func refill() {
    while !exhausted, members.count < PlacementCluster.alignedCandidates {
      guard let next = search.next() else {
        exhausted = true
        return
      }
      let entry = cluster.entries[next.position]
      guard room(entry, taken: 0) > 0 else { continue }
      members.append(Member(position: next.position, id: entry.id, score: next.score, taken: 0))
    }
  }

  private func room(_ entry: PlacementCluster.Entry, taken: Int) -> Int {
    // What it could take before the set began, less what the set took.
    PlacementCluster.slotsFitting(on: entry, request, sameSet: sameSet[entry.id] ?? 0) - taken
  }
}
