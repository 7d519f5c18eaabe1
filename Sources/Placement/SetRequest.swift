import SchedModel

/// N identical slots to place together, all or nothing.
public struct SetRequest: Sendable, Hashable {
  public var count: Int
  /// CPU and memory of one slot.
  public var demand: Resources
  /// Labels a node must carry, all of them, with these values.
  public var requiredLabels: [String: String]
  /// At most this many slots of the set on one node; nil for no limit.
  public var maxPerNode: Int?
  /// Nodes the set must not use (a rebalance emptying them).
  public var avoiding: Set<NodeID>

  public init(
    count: Int, demand: Resources, requiredLabels: [String: String] = [:], maxPerNode: Int? = nil,
    avoiding: Set<NodeID> = []
  ) {
    self.count = count
    self.demand = demand
    self.requiredLabels = requiredLabels
    self.maxPerNode = maxPerNode
    self.avoiding = avoiding
  }

  func validate() throws(PlacementError) {
    guard count > 0 else {
      throw PlacementError(.invalidRequest, "a set needs at least 1 slot, got \(count)")
    }
    guard count <= AppSpec.maxSlots else {
      throw PlacementError(
        .invalidRequest, "a set has at most \(AppSpec.maxSlots) slots, got \(count)")
    }
    guard demand.fits(in: AppSpec.maxDemand) else {
      throw PlacementError(
        .invalidRequest,
        "each slot may ask for at most \(Quantity.formatCPU(AppSpec.maxDemand.cpuMillis)) CPU and \(Quantity.formatMemory(AppSpec.maxDemand.memoryBytes)) memory"
      )
    }
    guard demand.cpuMillis > 0, demand.memoryBytes > 0 else {
      throw PlacementError(
        .invalidRequest,
        "each slot must ask for some CPU and memory (got \(demand.cpuMillis)m CPU, \(demand.memoryBytes) bytes)"
      )
    }
    if let maxPerNode, maxPerNode < 1 {
      throw PlacementError(.invalidRequest, "max per node must be at least 1, got \(maxPerNode)")
    }
  }
}
