import Foundation
import PropertyBased
import RouteTable
import SchedModel
import Testing

enum Routes {
  static func upstreams(_ color: Color, _ count: Int) -> [Upstream] {
    (0..<count).map {
      Upstream(
        slot: SlotID(app: "web", color: color, index: $0), address: "127.0.0.1",
        port: 20000 + $0 + (color == .green ? 100 : 0))
    }
  }

  static func table(epoch: Int64 = 1, greenSlots: Int = 2) -> RouteTable {
    RouteTable(
      epoch: epoch,
      apps: [
        AppRoutes(
          app: "web", hosts: ["Web.Example"],
          live: RouteSet(
            color: .blue, deployment: "d1", image: "web:1", upstreams: upstreams(.blue, 2)),
          candidate: RouteSet(
            color: .green, deployment: "d2", image: "web:2",
            upstreams: upstreams(.green, greenSlots))),
        AppRoutes(app: "api", hosts: ["api.example"]),
      ])
  }
}

@Suite("Route table")
struct RouteTableTests {
  @Test("apps are kept in name order, whatever order they come in")
  func nameOrder() {
    let names = ["b", "a", "d", "c", "a0", "B"]
    for order in [names, names.sorted(), names.sorted().reversed()] {
      let table = RouteTable(epoch: 1, apps: order.map { AppRoutes(app: $0, hosts: []) })
      #expect(table.apps.map(\.app) == names.sorted(), "from \(order)")
    }
  }

  @Test func hostsMatchWithoutPortOrCase() {
    let table = Routes.table()
    #expect(table.app(forHost: "web.example:8080")?.app == "web")
    #expect(table.app(forHost: "WEB.EXAMPLE")?.app == "web")
    #expect(table.app(forHost: "other.example") == nil)
    #expect(table.app(forHost: "other.example", defaultApp: "api")?.app == "api")
    #expect(table.app(forHost: nil, defaultApp: "web")?.app == "web")
    #expect(table.apps.map(\.app) == ["api", "web"])
  }

  /// The bare host of a Host header, by the byte path (ASCII) and the Character path (the
  /// rest, and ASCII the byte path leaves to it).
  @Test(
    "a Host header's bare name: port and brackets gone, lower case",
    arguments: [
      ("web.example", "web.example"), ("web.example:8080", "web.example"),
      ("WEB.Example:80", "web.example"), ("Web.Example", "web.example"),
      ("127.0.0.1:18704", "127.0.0.1"), ("[::1]:8080", "::1"), ("[FE80::1]", "fe80::1"),
      ("::1", "::1"), ("[::1", "[::1"), ("", ""), ("host:", "host"),
      ("BÜCHER.example:443", "bücher.example"), ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ])
  func bareHost(_ header: String, _ bare: String) {
    #expect(RouteTable.bareHost(header) == bare)
  }

  @Test func switchingSwapsLiveAndKeepsTheOldSetWarm() throws {
    let switched = try Routes.table().switching("web", to: .green, epoch: 2)
    let web = try #require(switched.app(named: "web"))
    #expect(switched.epoch == 2)
    #expect(web.live?.color == .green)
    #expect(web.candidate?.color == .blue)
    // Rolling back is the same operation the other way.
    let back = try switched.switching("web", to: .blue, epoch: 3)
    #expect(back.app(named: "web")?.live?.deployment == "d1")
  }

  @Test func switchesThatCannotHappenSayWhy() {
    let table = Routes.table(epoch: 5)
    #expect(throws: RouteError(.staleEpoch, "epoch 5 is not after the current 5")) {
      try table.switching("web", to: .green, epoch: 5)
    }
    #expect(throws: RouteError(.alreadyLive, "blue is already live for web")) {
      try table.switching("web", to: .blue, epoch: 6)
    }
    #expect(throws: RouteError(.unknownApp, "no routes for app 'ghost'")) {
      try table.switching("ghost", to: .green, epoch: 6)
    }
    #expect(throws: RouteError(.noHealthyUpstream, "the green set of web has no healthy slot")) {
      try Routes.table(greenSlots: 0).switching("web", to: .green, epoch: 6)
    }
    #expect(throws: RouteError(.noCandidate, "api has no green set to switch to")) {
      try table.switching("api", to: .green, epoch: 6)
    }
  }

  @Test func tablesRoundTripThroughJSON() throws {
    let table = Routes.table()
    let data = try JSONEncoder().encode(table)
    #expect(try JSONDecoder().decode(RouteTable.self, from: data) == table)
  }
}

@Suite("Router two-phase state")
struct RouterTablesTests {
  @Test func prepareThenCommit() throws {
    var router = RouterTables(current: Routes.table(epoch: 1))
    let next = try Routes.table(epoch: 1).switching("web", to: .green, epoch: 2)
    try router.prepare(next)
    #expect(router.current.epoch == 1)  // nothing changes until commit
    try router.commit(epoch: 2)
    #expect(router.current == next)
    #expect(router.pending == nil)
    try router.commit(epoch: 2)  // a retried commit is fine
  }

  @Test func abortKeepsServingTheOldTable() throws {
    var router = RouterTables(current: Routes.table(epoch: 1))
    try router.prepare(Routes.table(epoch: 2))
    router.abort(epoch: 2)
    #expect(router.pending == nil)
    #expect(router.current.epoch == 1)
    do {
      try router.commit(epoch: 2)
      Issue.record("expected the commit to be refused")
    } catch {
      #expect(error.code == .notPrepared)
    }
  }

  @Test func staleTablesAreRefused() throws {
    var router = RouterTables(current: Routes.table(epoch: 4))
    let stale = Routes.table(epoch: 4)
    let older = Routes.table(epoch: 5)
    do {
      try router.prepare(stale)
      Issue.record("expected a refusal")
    } catch {
      #expect(error.code == .staleEpoch)
    }
    try router.prepare(Routes.table(epoch: 6))
    do {
      try router.prepare(older)
      Issue.record("expected a refusal")
    } catch {
      #expect(error.message == "prepare of epoch 5 refused: epoch 6 is already prepared")
    }
    let tookOld = try router.install(Routes.table(epoch: 3))
    let tookNew = try router.install(Routes.table(epoch: 7))
    #expect(!tookOld)
    #expect(tookNew)
    #expect(router.pending == nil)  // the installed table is newer than the prepared one
  }

  @Test("the served epoch never goes back, whatever arrives in whatever order")
  func epochsOnlyIncrease() async {
    let step = zip(Gen.int(in: 0...3), Gen.int(in: 1...20))
    await propertyCheck(count: 300, input: step.array(of: 1...30)) { steps in
      var router = RouterTables()
      var served: Int64 = 0
      for (kind, epoch) in steps {
        switch kind {
        case 0: try? router.prepare(RouteTable(epoch: Int64(epoch), apps: []))
        case 1: _ = try? router.commit(epoch: Int64(epoch))
        case 2: router.abort(epoch: Int64(epoch))
        default: _ = try? router.install(RouteTable(epoch: Int64(epoch), apps: []))
        }
        #expect(router.current.epoch >= served)
        served = router.current.epoch
        if let pending = router.pending { #expect(pending.epoch > router.current.epoch) }
      }
    }
  }
}

@Suite("Switch round")
struct SwitchRoundTests {
  @Test func commitsOnlyWhenEveryRouterAcked() {
    var round = SwitchRound(epoch: 9, routers: ["r1", "r2"])
    #expect(round.ack(from: "r1", epoch: 9) == .waiting)
    #expect(round.ack(from: "r1", epoch: 8) == .waiting)  // an old ack does not count
    #expect(round.ack(from: "r2", epoch: 9) == .commit)
  }

  @Test func anyFailureAborts() {
    var refused = SwitchRound(epoch: 1, routers: ["r1", "r2"])
    #expect(
      refused.refused(by: "r2", reason: "stale epoch")
        == .abort("router r2 refused the prepare: stale epoch"))
    var left = SwitchRound(epoch: 1, routers: ["r1", "r2"])
    _ = left.ack(from: "r1", epoch: 1)
    #expect(left.left("r2") == .abort("router r2 disconnected before it was ready"))
    var slow = SwitchRound(epoch: 1, routers: ["r1", "r2", "r3"])
    _ = slow.ack(from: "r2", epoch: 1)
    #expect(slow.timedOut() == .abort("no ack in time from router(s) r1, r3"))
    #expect(slow.ack(from: "r1", epoch: 1) == .abort("no ack in time from router(s) r1, r3"))
    #expect(SwitchRound(epoch: 1, routers: []).decision != .waiting)
  }
}

@Suite("Balancer")
struct BalancerTests {
  let upstreams = Routes.upstreams(.blue, 3)
  let now = Date(timeIntervalSince1970: 1_800_000_000)

  @Test func roundRobin() {
    var balancer = Balancer()
    let picks = (0..<6).compactMap { _ in balancer.pick(from: upstreams, now: now) }
    #expect(picks == upstreams + upstreams)
  }

  @Test func retriesGoElsewhere() {
    var balancer = Balancer()
    let first = balancer.pick(from: upstreams, now: now)!
    let retry = balancer.pick(from: upstreams, excluding: [first], now: now)
    #expect(retry != nil && retry != first)
    #expect(balancer.pick(from: [first], excluding: [first], now: now) == nil)
  }

  @Test func failingUpstreamsAreEjectedForAWhile() {
    var balancer = Balancer(failureThreshold: 2, ejection: 5)
    let bad = upstreams[0]
    balancer.failed(bad, now: now)
    #expect(!balancer.isEjected(bad, now: now))
    balancer.failed(bad, now: now)
    #expect(balancer.isEjected(bad, now: now))
    let picks = (0..<4).compactMap { _ in balancer.pick(from: upstreams, now: now) }
    #expect(!picks.contains(bad))
    #expect(!balancer.isEjected(bad, now: now.addingTimeInterval(6)))
    // All ejected: still pick one rather than fail for sure.
    var all = Balancer(failureThreshold: 1)
    for upstream in upstreams { all.failed(upstream, now: now) }
    #expect(all.pick(from: upstreams, now: now) != nil)
  }
}
