import RouteTable
import SchedModel

/// Builds the route table the scheduler hands to routers, from its own state: each app's live
/// set and candidate set, with only the slots that are healthy, on a ready node, and of the set's
/// current deployment. Pure: the scheduler passes a snapshot and the next epoch.
public enum RouteBuilder {
  public static func build(
    epoch: Int64, apps: [AppRecord], sets: [SetRecord], allocations: [Allocation],
    reports: SlotReports, nodes: [Node],
    hosts: [String: [String]] = [:]
  ) -> RouteTable {
    build(
      epoch: epoch, apps: apps, sets: sets, allocations: allocations, reports: reports,
      nodes: Dictionary(nodes.map { ($0.id, $0) }) { _, last in last }, hosts: hosts)
  }

  /// The same, with the nodes by id and the allocations in any order: each set's upstreams are
  /// its slots in index order. Linear in apps, sets, allocations: a deploy among thousands of
  /// apps rebuilds the table without a pass over every allocation per set.
  public static func build(
    epoch: Int64, apps: [AppRecord], sets: [SetRecord], allocations: some Sequence<Allocation>,
    reports: SlotReports, nodes: [NodeID: Node],
    hosts: [String: [String]] = [:]
  ) -> RouteTable {
    var slotsOfSet: [SetKey: [Allocation]] = [:]
    for allocation in allocations {
      slotsOfSet[allocation.slot.set, default: []].append(allocation)
    }
    let setsOfApp = Dictionary(grouping: sets, by: \.app)
    let routes = apps.map { app in
      self.app(
        app, sets: setsOfApp[app.name] ?? [], hosts: hosts[app.name] ?? [],
        slots: { slotsOfSet[$0] ?? [] }, reports: reports, nodes: nodes)
    }
    return RouteTable(epoch: epoch, apps: routes)
  }

  /// One app's routes: its live set and its candidate (`sets`, of this app), each with the
  /// slots of `slots(set)` that are healthy, on a ready node and of the set's deployment, in
  /// index order.
  public static func app(
    _ app: AppRecord, sets: [SetRecord], hosts: [String],
    slots: (SetKey) -> [Allocation], reports: SlotReports, nodes: [NodeID: Node]
  ) -> AppRoutes {
    func routeSet(_ set: SetRecord) -> RouteSet {
      let upstreams = slots(set.key).sorted { $0.slot.index < $1.slot.index }
        .compactMap { allocation -> Upstream? in
          guard let node = nodes[allocation.node], node.state == .ready,
            let report = reports[allocation.slot, on: allocation.node],
            report.deployment == set.deployment, report.health == .healthy
          else { return nil }
          return Upstream(
            slot: allocation.slot, address: node.spec.address, port: allocation.hostPort,
            image: report.imageID)
        }
      return RouteSet(
        color: set.color, deployment: set.deployment, image: set.image, upstreams: upstreams)
    }
    let live = app.live.flatMap { color in sets.first { $0.color == color } }
    let candidate = sets.first { $0.color != app.live }
    return AppRoutes(
      app: app.name, hosts: hosts, live: live.map(routeSet),
      candidate: candidate.map(routeSet), httpsRedirect: app.spec.https?.redirect ?? false,
      hsts: app.spec.https?.hsts)
  }
}
