import SchedModel

/// Why a node cannot take a slot. Order is the order filters run in.
public enum NodeRejection: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
  case down
  case avoided
  case labels
  case perNodeLimit = "per_node_limit"
  case cpu
  case memory
  case ports

  public static func < (lhs: NodeRejection, rhs: NodeRejection) -> Bool {
    allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
  }

  /// How a person reads it: "cpu short on 2 nodes".
  func phrase(nodes: Int) -> String {
    let noun = nodes == 1 ? "node" : "nodes"
    return switch self {
    case .down: "\(nodes) \(noun) down"
    case .avoided: "\(nodes) \(noun) being emptied"
    case .labels: "labels unmatched on \(nodes) \(noun)"
    case .perNodeLimit: "per-node limit reached on \(nodes) \(noun)"
    case .cpu: "cpu short on \(nodes) \(noun)"
    case .memory: "memory short on \(nodes) \(noun)"
    case .ports: "no free host port on \(nodes) \(noun)"
    }
  }
}

/// The feasibility filters. A node is skipped at the first failing gate (down, labels, limit);
/// the resource gates all report, so an operator sees every dimension that is short.
enum Feasibility {
  static func rejections(of node: PlacementNode, for request: SetRequest) -> [NodeRejection] {
    guard node.state == .ready else { return [.down] }
    if request.avoiding.contains(node.id) { return [.avoided] }
    for (key, value) in request.requiredLabels where node.labels[key] != value {
      return [.labels]
    }
    if let limit = request.maxPerNode, node.sameSetSlots >= limit { return [.perNodeLimit] }
    var out: [NodeRejection] = []
    let free = node.free
    if request.demand.cpuMillis > free.cpuMillis { out.append(.cpu) }
    if request.demand.memoryBytes > free.memoryBytes { out.append(.memory) }
    if node.firstFreePort == nil { out.append(.ports) }
    return out
  }
}
