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
    let readyNodes = Dictionary(
      uniqueKeysWithValues: nodes.filter { $0.state == .ready }.map { ($0.id, $0) })
    func routeSet(_ set: SetRecord) -> RouteSet {
      let upstreams = allocations.filter { $0.slot.app == set.app && $0.slot.color == set.color }
        .compactMap { allocation -> Upstream? in
          guard let node = readyNodes[allocation.node],
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
    let routes = apps.map { app -> AppRoutes in
      let mine = sets.filter { $0.app == app.name }
      let live = app.live.flatMap { color in mine.first { $0.color == color } }
      let candidate = mine.first { $0.color != app.live }
      return AppRoutes(
        app: app.name, hosts: hosts[app.name] ?? [], live: live.map(routeSet),
        candidate: candidate.map(routeSet), httpsRedirect: app.spec.https?.redirect ?? false,
        hsts: app.spec.https?.hsts)
    }
    return RouteTable(epoch: epoch, apps: routes)
  }
}
