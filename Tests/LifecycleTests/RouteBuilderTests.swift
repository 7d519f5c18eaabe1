import Foundation
import Lifecycle
import ModelFixtures
import RouteTable
import SchedModel
import Testing

@Suite("Route builder")
struct RouteBuilderTests {
  let at = Date(timeIntervalSince1970: 1_800_000_000)

  func allocation(_ color: Color, _ index: Int, node: String) -> Allocation {
    Allocation(
      slot: SlotID(app: "web", color: color, index: index), node: NodeID(node),
      hostPort: 20000 + index + (color == .green ? 10 : 0),
      resources: Resources(cpuMillis: 1, memoryBytes: 1))
  }

  func report(_ a: Allocation, deployment: String, health: SlotHealth) -> (
    SlotID, (node: NodeID, status: SlotStatus)
  ) {
    (a.slot, (a.node, SlotStatus(slot: a.slot, deployment: deployment, health: health)))
  }

  @Test func onlyHealthySlotsOfTheCurrentDeploymentOnReadyNodesAreRouted() {
    let app = AppRecord(
      spec: AppSpec(
        name: "web", image: "web:1", slots: 3,
        resources: Resources(cpuMillis: 1, memoryBytes: 8 << 20)),
      live: .blue, updatedAt: at)
    let sets = [
      SetRecord(app: "web", color: .blue, deployment: "d1", image: "web:1", createdAt: at),
      SetRecord(app: "web", color: .green, deployment: "d2", image: "web:2", createdAt: at),
    ]
    let blue = (0..<3).map { allocation(.blue, $0, node: $0 == 2 ? "n2" : "n1") }
    let green = (0..<2).map { allocation(.green, $0, node: "n1") }
    let reports = SlotReports(
      Dictionary(uniqueKeysWithValues: [
        report(blue[0], deployment: "d1", health: .healthy),
        report(blue[1], deployment: "d1", health: .unhealthy),
        report(blue[2], deployment: "d1", health: .healthy),  // but n2 is down
        report(green[0], deployment: "d2", health: .healthy),
        report(green[1], deployment: "d0", health: .healthy),  // an older deployment's container
      ]))
    let nodes = [Fixtures.node("n1"), Fixtures.node("n2", state: .down)]
    let table = RouteBuilder.build(
      epoch: 7, apps: [app], sets: sets, allocations: blue + green, reports: reports, nodes: nodes,
      hosts: ["web": ["web.example"]])
    let web = table.app(named: "web")
    #expect(table.epoch == 7)
    #expect(web?.hosts == ["web.example"])
    #expect(web?.live?.color == .blue)
    #expect(web?.live?.upstreams.map(\.slot.index) == [0])
    #expect(web?.live?.upstreams.first?.port == 20000)
    #expect(web?.candidate?.color == .green)
    #expect(web?.candidate?.upstreams.map(\.slot.index) == [0])
    #expect(web?.candidate?.image == "web:2")
  }

  @Test func anAppWithoutSetsHasNoRoutes() {
    let app = AppRecord(
      spec: AppSpec(
        name: "web", image: "web:1", slots: 1,
        resources: Resources(cpuMillis: 1, memoryBytes: 8 << 20)),
      updatedAt: at)
    let table = RouteBuilder.build(
      epoch: 1, apps: [app], sets: [], allocations: [], reports: [:], nodes: [])
    #expect(table.app(named: "web") == AppRoutes(app: "web"))
  }
}
