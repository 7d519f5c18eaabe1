import Foundation
import OperatorAPI
import Placement
import SchedModel
import SchedWire

/// One consistent read of nodes and allocations, and the views built from it.
struct ClusterView {
  var nodes: [Node]
  var allocations: [Allocation]
  var at: Date

  static func make(_ cluster: Cluster) async throws -> ClusterView {
    let nodes = await cluster.snapshot()
    let allocations = try await cluster.store.allocations()
    return ClusterView(nodes: nodes, allocations: allocations, at: cluster.now())
  }

  func allocated(on node: NodeID) -> Resources {
    allocations.filter { $0.node == node }.reduce(Resources.zero) { $0 + $1.resources }
  }

  var nodeViews: [NodeView] {
    nodes.map { node in
      let allocated = allocated(on: node.id)
      return NodeView(
        id: node.id, name: node.spec.name, address: node.spec.address, state: node.state,
        generation: node.generation, capacity: node.spec.capacity, allocated: allocated,
        free: node.spec.capacity - allocated, usage: node.usage, ports: node.spec.ports,
        labels: node.spec.labels,
        heartbeatAgeMillis: node.lastHeartbeatAt.map { Int64(at.timeIntervalSince($0) * 1000) })
    }
  }

  /// Placement's input.
  var placementNodes: [PlacementNode] {
    PlacementNode.nodes(nodes, allocations: allocations)
  }
}
