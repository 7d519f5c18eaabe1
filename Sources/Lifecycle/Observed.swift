import Foundation
import SchedModel

/// The last reported status of every slot, by the node that reported it. Two nodes can
/// report one slot for a while (a node back from a partition whose slots were re-placed runs
/// its stale copy until its next assign): a slot's report is read from the node it is
/// allocated to, `reports[slot, on: node]`.
public struct SlotReports: Sendable, ExpressibleByDictionaryLiteral {
  public private(set) var byNode: [NodeID: [SlotID: SlotStatus]]

  public init(byNode: [NodeID: [SlotID: SlotStatus]] = [:]) {
    self.byNode = byNode
  }

  public init(dictionaryLiteral elements: (SlotID, (node: NodeID, status: SlotStatus))...) {
    self.init(Dictionary(elements) { _, last in last })
  }

  /// One report per slot, each from the node named.
  public init(_ bySlot: [SlotID: (node: NodeID, status: SlotStatus)]) {
    self.byNode = [:]
    for (slot, report) in bySlot { self[slot] = report }
  }

  /// The report of `slot` from `node`, nil when that node does not report it.
  public subscript(slot: SlotID, on node: NodeID) -> SlotStatus? {
    byNode[node]?[slot]
  }

  /// The report of `slot` from the lowest node id reporting it; setting it replaces every
  /// node's report of the slot.
  public subscript(slot: SlotID) -> (node: NodeID, status: SlotStatus)? {
    get {
      byNode.keys.sorted().lazy.compactMap { node in
        self.byNode[node]?[slot].map { (node: node, status: $0) }
      }.first
    }
    set {
      for node in byNode.keys { byNode[node]?[slot] = nil }
      if let newValue { byNode[newValue.node, default: [:]][slot] = newValue.status }
    }
  }
}

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
  /// Ready nodes that have missed beats and are on their way to down. The brake counts them
  /// with the down ones: a failed link silences nodes at one moment, but they cross the TTL
  /// up to a heartbeat apart, and the first alone would look like one host's death.
  public var silent: Set<NodeID>
  /// Changes whenever a node's capacity, ports, labels or state does, or a node comes or goes
  /// (not on a heartbeat): placement reads the nodes again only then. Nil: read them every
  /// time.
  public var nodesRevision: Int?

  public init(
    nodes: [Node], reports: SlotReports, now: Date, reported: Set<NodeID>? = nil,
    pulls: [NodeID: [ImagePull]] = [:], silent: Set<NodeID> = [], nodesRevision: Int? = nil
  ) {
    self.init(
      nodes: Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, $0) }), reports: reports,
      now: now, reported: reported, pulls: pulls, silent: silent, nodesRevision: nodesRevision)
  }

  /// The same, with the nodes by id as their owner keeps them.
  public init(
    nodes: [NodeID: Node], reports: SlotReports, now: Date, reported: Set<NodeID>? = nil,
    pulls: [NodeID: [ImagePull]] = [:], silent: Set<NodeID> = [], nodesRevision: Int? = nil
  ) {
    self.nodes = nodes
    self.nodesRevision = nodesRevision
    self.reports = reports
    self.now = now
    self.reported = reported
    self.pulls = pulls
    self.silent = silent
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
