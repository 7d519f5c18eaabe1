import RouteTable
import SchedModel

/// Each app's routes as last built, and what they were built from, so that a publish rebuilds
/// only the apps whose inputs changed: an app the state changed (`invalidate`), an app with a
/// slot on a node whose state, address or slot reports changed, an app a retire takes out of
/// the table or gives back. At thousands of apps a deploy, or a slot turning healthy, then
/// costs its own app's routes instead of every app's. `RouteCacheTests` check it against a
/// table built afresh after every step of random histories.
struct RouteCache: Sendable {
  /// Every app's routes, in name order, and where each app is in it.
  private var list: [AppRoutes] = []
  private var index: [String: Int] = [:]
  /// Apps changed since the last refresh; `everything` when all of them must be built.
  private var stale: Set<String> = []
  private var everything = true
  /// What the routes were last built from.
  private var nodes: [NodeID: Node] = [:]
  private var nodesRevision: Int?
  private var reports: [NodeID: [SlotID: SlotStatus]] = [:]
  private var unrouted: Set<SetKey> = []

  /// The app's record, sets or slots changed.
  mutating func invalidate(_ app: String) {
    stale.insert(app)
  }

  /// Every app's routes from `desired` and `observed`, leaving out the sets in `unrouted`,
  /// in name order.
  mutating func refresh(_ desired: Desired, unrouted: Set<SetKey>, _ observed: Observed)
    -> [AppRoutes]
  {
    if everything || index.count != desired.apps.count
      || stale.contains(where: { index[$0] == nil })
    {
      rebuild(desired, unrouted: unrouted, observed)
      return list
    }
    var dirty = stale
    for node in changedNodes(observed) {
      for slot in desired.slots(on: node) { dirty.insert(slot.app) }
    }
    for key in unrouted.symmetricDifference(self.unrouted) { dirty.insert(key.app) }
    remember(unrouted, observed)
    for name in dirty {
      guard let app = desired.apps[name], let at = index[name] else { continue }
      let routes = Self.build(app, desired, unrouted: unrouted, observed)
      if routes != list[at] { list[at] = routes }
    }
    return list
  }

  private mutating func rebuild(_ desired: Desired, unrouted: Set<SetKey>, _ observed: Observed) {
    list = desired.apps.keys.sorted().compactMap { name in
      desired.apps[name].map { Self.build($0, desired, unrouted: unrouted, observed) }
    }
    index = Dictionary(uniqueKeysWithValues: list.enumerated().map { ($1.app, $0) })
    everything = false
    remember(unrouted, observed)
  }

  private mutating func remember(_ unrouted: Set<SetKey>, _ observed: Observed) {
    stale = []
    self.unrouted = unrouted
    nodes = observed.nodes
    nodesRevision = observed.nodesRevision
    reports = observed.reports.byNode
  }

  /// Nodes whose state, address or slot reports differ from what the routes were built from.
  private func changedNodes(_ observed: Observed) -> Set<NodeID> {
    var changed = Set<NodeID>()
    if observed.nodesRevision == nil || observed.nodesRevision != nodesRevision {
      for (id, node) in observed.nodes
      where nodes[id].map({ $0.state != node.state || $0.spec.address != node.spec.address })
        ?? true
      {
        changed.insert(id)
      }
      for id in nodes.keys where observed.nodes[id] == nil { changed.insert(id) }
    }
    // Equal at once when the owner changed no node's reports (one storage); else node by node.
    let now = observed.reports.byNode
    if now != reports {
      for (id, slots) in now where reports[id] != slots { changed.insert(id) }
      for id in reports.keys where now[id] == nil { changed.insert(id) }
    }
    return changed
  }

  /// One app's routes as `refresh` builds them.
  static func build(
    _ app: AppRecord, _ desired: Desired, unrouted: Set<SetKey>, _ observed: Observed
  ) -> AppRoutes {
    RouteBuilder.app(
      app, sets: desired.sets(of: app.name).filter { !unrouted.contains($0.key) },
      hosts: app.spec.hosts, slots: { desired.allocations(of: $0) }, reports: observed.reports,
      nodes: observed.nodes)
  }
}
