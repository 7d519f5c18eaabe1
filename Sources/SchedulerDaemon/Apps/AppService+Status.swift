import Foundation
import SchedModel
import SchedWire

extension AppService {
  public func status(_ name: String) async throws(APIFailure) -> AppStatusResponse {
    guard let app = try await app(name, required: true) else { throw APIFailure(.notFound, "") }
    let sets = try await wrap { try await store.sets() }.filter { $0.app == name }
    let allocations = try await wrap { try await store.allocations() }.filter {
      $0.slot.app == name
    }
    let reports = await cluster.slotStatuses()
    let nodes = Dictionary(uniqueKeysWithValues: await cluster.snapshot().map { ($0.id, $0) })
    let views = sets.map { set in
      let slots = allocations.filter { $0.slot.color == set.color }
        .sorted { $0.slot.index < $1.slot.index }
        .map { Self.slotView($0, set: set, node: nodes[$0.node], report: reports[$0.slot]) }
      return SetView(
        color: set.color, deployment: set.deployment, image: set.image,
        state: Self.state(of: slots),
        live: app.live == set.color, slots: slots, createdAt: set.createdAt)
    }
    return AppStatusResponse(
      app: app, sets: views, traffic: await routers.traffic(app: name),
      epoch: await routers.table.epoch)
  }

  static func slotView(
    _ allocation: Allocation, set: SetRecord, node: Node?,
    report: (node: NodeID, status: SlotStatus)?
  ) -> SlotView {
    var status: SlotStatus? = nil
    if let report, report.node == allocation.node, report.status.deployment == set.deployment {
      status = report.status
    }
    if node?.state == .down {
      status = SlotStatus(
        slot: allocation.slot, deployment: set.deployment, containerID: status?.containerID,
        health: .unhealthy, startedAt: status?.startedAt,
        message: "node \(allocation.node) is down")
    }
    return SlotView(
      index: allocation.slot.index, node: allocation.node, address: node?.spec.address ?? "?",
      hostPort: allocation.hostPort, containerID: status?.containerID,
      health: status?.health ?? .starting, startedAt: status?.startedAt,
      message: status == nil ? "waiting for the agent's report" : status?.message)
  }

  static func state(of slots: [SlotView]) -> SetView.State {
    if slots.allSatisfy({ $0.health == .healthy }) { return .ready }
    let failed: Set<SlotHealth> = [.unhealthy, .exited, .refused]
    return slots.contains { failed.contains($0.health) } ? .degraded : .starting
  }
}
