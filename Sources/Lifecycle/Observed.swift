import Foundation
import SchedModel

/// The last reported status of every slot, by slot, with the node that reported it.
public typealias SlotReports = [SlotID: (node: NodeID, status: SlotStatus)]

/// What the scheduler observes of the cluster at one moment, owned elsewhere (the cluster's
/// nodes and their agents' slot reports) and handed in with every event, with the time.
public struct Observed: Sendable {
  public var nodes: [NodeID: Node]
  public var reports: SlotReports
  public var now: Date
  /// Nodes whose slot reports can be trusted for routing (each reported since the scheduler
  /// started); nil once a TTL has passed since the start, when a silent node is down anyway.
  public var reported: Set<NodeID>?
  /// Each node's image fetches from the store, as its last heartbeat told.
  public var pulls: [NodeID: [ImagePull]]

  public init(
    nodes: [Node], reports: SlotReports, now: Date, reported: Set<NodeID>? = nil,
    pulls: [NodeID: [ImagePull]] = [:]
  ) {
    self.nodes = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0) })
    self.reports = reports
    self.now = now
    self.reported = reported
    self.pulls = pulls
  }

  /// Nodes sorted by id.
  public var nodeList: [Node] { nodes.values.sorted { $0.id < $1.id } }

  /// Whether the reports of every node in `ids` can be trusted: it reported, or it is not
  /// ready (its slots are routed nowhere anyway).
  func knowsSlots(on ids: some Sequence<NodeID>) -> Bool {
    guard let reported else { return true }
    return ids.allSatisfy { reported.contains($0) || nodes[$0]?.state != .ready }
  }
}
