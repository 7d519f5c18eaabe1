import Foundation
import ModelFixtures
import RouteTable
import SchedModel
import Testing

@testable import Lifecycle

/// The routes a publish builds only for the apps that changed must be the table built afresh
/// from every app, after every step of random histories: deploys, slots turning healthy or
/// not, reports lost, nodes down and up or moved, switches, retires and their drains.
@Suite("Route cache")
struct RouteCacheTests {
  static let apps = ["a", "b", "c", "d"]

  @Test func theRoutesKeptEqualATableBuiltAfresh() {
    var switches = 0
    var routed = 0
    for seed in UInt64(0)..<40 {
      let (s, r) = Self.history(seed: seed)
      switches += s
      routed += r
    }
    // The histories do what they are for: switches commit, slots get routed.
    #expect(switches >= 40, "\(switches) switches")
    #expect(routed >= 800, "\(routed) steps with a slot routed")
  }

  /// One random history, checked step by step; the switches committed and the steps that
  /// routed a slot.
  static func history(seed: UInt64) -> (switches: Int, routed: Int) {
    var switches = 0
    var routed = 0
    var rng = SeededRNG(state: seed &+ 1)
    var world = World()
    world.nodes = (1...4).map { World.node("n\($0)") }
    var revision = 0
    // Every app with a live set and a candidate, then anything at random.
    for app in Self.apps { world.deployed(World.spec(app, slots: 2, cpu: 50)) }
    for step in 0..<80 {
      let app = Self.apps.randomElement(using: &rng)!
      let key = SetKey(app: app, color: Bool.random(using: &rng) ? .blue : .green)
      switch Int.random(in: 0..<10, using: &rng) {
      case 0:
        var spec = World.spec(app, slots: Int.random(in: 1...3, using: &rng), cpu: 50)
        spec.hosts = ["\(app)\(step % 3).example"]
        world.run(.apply(spec, actor: "op"))
      case 1:
        world.run(.deploy(app: app, image: "\(app):\(step)", actor: "op", deployment: "d\(step)"))
      case 2:
        let health: [SlotHealth] = [.healthy, .healthy, .unhealthy, .starting]
        world.report(key, health.randomElement(using: &rng)!, image: "sha256:\(step)")
      case 3:
        // One slot's report lost, or from an older deployment.
        guard let allocation = world.core.desired.allocations(of: key).first else { continue }
        world.reports[allocation.slot] =
          Bool.random(using: &rng)
          ? nil
          : (
            allocation.node, SlotStatus(slot: allocation.slot, deployment: "old", health: .healthy)
          )
      case 4, 5:
        let index = Int.random(in: 0..<world.nodes.count, using: &rng)
        if world.nodes[index].state == .ready, step % 2 == 0 {
          world.nodes[index].state = .down
        } else if world.nodes[index].state == .down {
          world.nodes[index].state = .ready
        } else {
          world.nodes[index].spec.address = "10.1.\(step).\(index)"
        }
        revision += 1
      case 6:
        let actions = world.run(world.ask(app, force: true))
        if actions.plan != nil {
          switches += 1
          world.run(
            .roundEnded(
              app: app,
              .committed(routers: world.routers, lagging: [], prepareMillis: 1, commitMillis: 1)))
        }
      case 7:
        world.run(.retire(app: app, drainTimeoutMillis: 1000, actor: "op"))
      case 8:
        world.run(.drained(app: app, left: [:], millis: 1))
      default:
        world.advance(seconds: 30)
      }
      world.run(.observed)
      // With the owner's revision of the nodes (changed only when they are), and without.
      let observed = Observed(
        nodes: world.nodes, reports: world.reports, now: world.now,
        nodesRevision: step % 5 == 0 ? nil : revision)
      let fresh = Self.fresh(world.core, observed)
      let kept = Self.differing(world.core.routes(observed), fresh)
      #expect(kept.isEmpty, "seed \(seed), step \(step): the cache differs on \(kept)")
      let published = Self.differing(world.core.published.apps, fresh)
      #expect(published.isEmpty, "seed \(seed), step \(step): published differs on \(published)")
      if fresh.contains(where: { ($0.live?.upstreams.count ?? 0) > 0 }) { routed += 1 }
    }
    return (switches, routed)
  }

  /// The apps whose routes differ between two lists (an app in one only included).
  static func differing(_ one: [AppRoutes], _ other: [AppRoutes]) -> [String] {
    let mine = Dictionary(uniqueKeysWithValues: one.map { ($0.app, $0) })
    let theirs = Dictionary(uniqueKeysWithValues: other.map { ($0.app, $0) })
    return Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }.sorted()
      + (one.map(\.app) == one.map(\.app).sorted() ? [] : ["(out of name order)"])
  }

  /// Every app's routes built from nothing kept, as the table was built before the cache.
  static func fresh(_ core: Lifecycle, _ observed: Observed) -> [AppRoutes] {
    let unrouted = Set(core.states.values.compactMap(\.phase.unrouted))
    let apps = core.desired.appList
    return RouteBuilder.build(
      epoch: 0, apps: apps, sets: core.desired.setList.filter { !unrouted.contains($0.key) },
      allocations: core.desired.allocations.values, reports: observed.reports,
      nodes: observed.nodes,
      hosts: Dictionary(uniqueKeysWithValues: apps.map { ($0.name, $0.spec.hosts) })
    ).apps
  }
}
