import Foundation
import OperatorAPI
import RouteTable
import SchedModel

/// How sets and slots look to operators, from the decisions and the agents' reports. Pure.
public enum SetViews {
  /// One slot: where it runs, and its health as its node reported it for this deployment
  /// (unhealthy when the node is down; starting until a report arrives).
  public static func slotView(
    _ allocation: Allocation, set: SetRecord, node: Node?, report: SlotStatus?
  ) -> SlotView {
    var status: SlotStatus? = nil
    if let report, report.deployment == set.deployment {
      status = report
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

  /// Ready when every slot is healthy, degraded when one failed, else starting.
  public static func state(of slots: [SlotView]) -> SetView.State {
    if slots.allSatisfy({ $0.health == .healthy }) { return .ready }
    let failed: Set<SlotHealth> = [.unhealthy, .exited, .refused]
    return slots.contains { failed.contains($0.health) } ? .degraded : .starting
  }

  /// "slot 1 on n2 is starting (waiting for the agent's report)" for each slot not healthy.
  public static func notHealthy(_ slots: [SlotView]) -> [String] {
    slots.filter { $0.health != .healthy }.map { slot in
      var line = "slot \(slot.index) on \(slot.node) is \(slot.health.rawValue)"
      if let message = slot.message { line += " (\(message))" }
      return line
    }
  }
}

extension Lifecycle {
  /// The slots of one set as operators see them.
  public func slotViews(of set: SetRecord, _ observed: Observed) -> [SlotView] {
    desired.allocations(of: set.key).map {
      var view = SetViews.slotView(
        $0, set: set, node: observed.nodes[$0.node], report: observed.reports[$0.slot, on: $0.node])
      if let missing = replacement.missing[$0.slot] {
        view.message = "node \($0.node) is down; missing, \(missing)"
      }
      return view
    }
  }

  /// `GET /v1/apps/NAME`: both colors, each slot where it runs and how it is.
  public func status(
    _ name: String, _ observed: Observed, traffic: [SetTraffic], epoch: Int64
  ) -> Result<AppStatusResponse, LifecycleError> {
    guard let app = desired.apps[name] else { return .failure(.noApp(name)) }
    let views = desired.sets(of: name).map { set in
      let slots = slotViews(of: set, observed)
      let pulls = Set(slots.map(\.node)).sorted().flatMap { node in
        (observed.pulls[node] ?? []).filter { $0.reference == set.image }
          .map { NodePull(node: node, pull: $0) }
      }
      return SetView(
        color: set.color, deployment: set.deployment, image: set.image,
        state: SetViews.state(of: slots), live: app.live == set.color, slots: slots,
        createdAt: set.createdAt, pulls: pulls)
    }
    var response = AppStatusResponse(app: app, sets: views, traffic: traffic, epoch: epoch)
    var replacement = replacementStatus(observed)
    replacement.missing.removeAll { $0.slot.app != name }
    if !replacement.isQuiet { response.replacement = replacement }
    return .success(response)
  }

  /// Every slot `node` should run, built from the committed sets.
  public func assignments(for node: NodeID) -> [SlotAssignment] {
    desired.allocations(on: node).compactMap { allocation in
      guard let spec = desired.apps[allocation.slot.app]?.spec,
        let set = desired.sets[allocation.slot.set]
      else { return nil }
      return SlotAssignment(
        slot: allocation.slot, deployment: set.deployment, image: set.image,
        resources: allocation.resources, hostPort: allocation.hostPort,
        containerPort: spec.containerPort, env: spec.env, health: spec.health,
        network: spec.network, security: spec.security, log: spec.log)
    }
  }
}
