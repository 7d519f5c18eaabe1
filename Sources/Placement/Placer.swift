import SchedModel

/// One placed slot: which node, which host port.
public struct PlannedSlot: Sendable, Hashable, Codable {
  public var index: Int
  public var node: NodeID
  public var hostPort: Int

  public init(index: Int, node: NodeID, hostPort: Int) {
    self.index = index
    self.node = node
    self.hostPort = hostPort
  }
}

/// A slot that did not fit, and how many nodes turned it away for each reason.
public struct UnplacedSlot: Sendable, Hashable {
  public var index: Int
  public var rejections: [NodeRejection: Int]
  /// Set when this slot alone would fit there but the set as a whole does not.
  public var heldBackFrom: NodeID?

  public init(index: Int, rejections: [NodeRejection: Int], heldBackFrom: NodeID? = nil) {
    self.index = index
    self.rejections = rejections
    self.heldBackFrom = heldBackFrom
  }

  /// "cpu short on 2 nodes, 1 node down"; "no nodes registered" when the cluster is empty.
  public var reason: String {
    if let heldBackFrom {
      return "would fit on \(heldBackFrom), held back because the whole set does not fit"
    }
    if rejections.isEmpty { return "no nodes registered" }
    return rejections.sorted { $0.key < $1.key }.map { $0.key.phrase(nodes: $0.value) }
      .joined(separator: ", ")
  }
}

/// Placement's answer: every slot placed, or none with a reason for each slot that did not fit.
public enum PlacementResult: Sendable, Hashable {
  case placed([PlannedSlot])
  case unplaced([UnplacedSlot])
}

/// Places a set of identical slots on nodes, all or nothing, by `rule` (`aligned` unless told):
/// a cluster is made of the nodes and asked (`PlacementCluster.place`). A caller that places
/// often keeps a `PlacementCluster` instead and changes it as slots come and go.
public enum Placer {
  public static func place(
    _ request: SetRequest, on nodes: [PlacementNode], rule: PlacementRule = .aligned
  ) throws(PlacementError) -> PlacementResult {
    var sameSet: [NodeID: Int] = [:]
    for node in nodes where node.sameSetSlots > 0 { sameSet[node.id] = node.sameSetSlots }
    return try PlacementCluster(nodes).place(request, sameSet: sameSet, rule: rule)
  }

  /// The fewest nodes of the given capacity any placement could use:
  /// max over dimensions of ceil(total demand / capacity).
  public static func lowerBound(count: Int, demand: Resources, nodeCapacity: Resources) -> Int {
    func ceilDiv(_ a: Int64, _ b: Int64) -> Int { Int((a + b - 1) / b) }
    let total = demand * count
    return max(
      ceilDiv(total.cpuMillis, nodeCapacity.cpuMillis),
      ceilDiv(total.memoryBytes, nodeCapacity.memoryBytes))
  }
}

/// Best fit as first written, one slot at a time over every node: the reference the index's
/// search is checked against (same plans), and what explains a set that does not fit.
///
/// Pure and deterministic: the same nodes and request give the same plan. Slots go one at a time
/// to the feasible node with the highest best-fit score (ties to the lowest node id), each taking
/// that node's lowest free host port. For identical slots this greedy order is also complete:
/// each node holds a fixed number of them whatever the order, so if any assignment exists, it
/// finds one.
public enum ReferencePlacer {
  public static func place(_ request: SetRequest, on nodes: [PlacementNode]) throws(PlacementError)
    -> PlacementResult
  {
    try request.validate()
    var working = nodes.sorted { $0.id < $1.id }
    var planned: [PlannedSlot] = []
    for index in 0..<request.count {
      var best: (position: Int, score: Double)?
      var rejections: [NodeRejection: Int] = [:]
      for (position, node) in working.enumerated() {
        let reasons = Feasibility.rejections(of: node, for: request)
        if !reasons.isEmpty {
          for reason in reasons { rejections[reason, default: 0] += 1 }
          continue
        }
        let score = Scoring.bestFit(capacity: node.capacity, used: node.allocated + request.demand)
        // Strictly greater keeps the first (lowest id) node on a tie.
        if best == nil || score > best!.score { best = (position, score) }
      }
      guard let chosen = best else {
        let heldBack = planned.map {
          UnplacedSlot(index: $0.index, rejections: [:], heldBackFrom: $0.node)
        }
        let unplaced = (index..<request.count).map {
          UnplacedSlot(index: $0, rejections: rejections)
        }
        return .unplaced(heldBack + unplaced)
      }
      let port = working[chosen.position].firstFreePort!
      working[chosen.position].allocated = working[chosen.position].allocated + request.demand
      working[chosen.position].usedPorts.insert(port)
      working[chosen.position].sameSetSlots += 1
      planned.append(
        PlannedSlot(index: index, node: working[chosen.position].id, hostPort: port))
    }
    return .placed(planned)
  }

}
