import AgentCore
import SchedModel
import SchedWire

/// What the heartbeats say of the slots: each slot's status from its container, its health
/// checks and the problems met starting it, and whether a slot's health changed since the
/// last beat.
extension SlotManager {
  public func slotStatuses() -> [SlotStatus] {
    let statuses = currentStatuses()
    reportedHealth = Self.healthMap(statuses)
    return statuses
  }

  public func reportDue() -> Bool {
    Self.healthMap(currentStatuses()) != reportedHealth
  }

  func currentStatuses() -> [SlotStatus] {
    guard let desired else {
      // Before the first assign: report what is running, so nothing looks lost.
      return observed.keys.sorted().compactMap { status(for: $0, deployment: nil) }
    }
    return desired.keys.sorted().compactMap { status(for: $0, deployment: desired[$0]!.deployment) }
  }

  static func healthMap(_ statuses: [SlotStatus]) -> [SlotID: String] {
    Dictionary(statuses.map { ($0.slot, "\($0.deployment)/\($0.health.rawValue)") }) { $1 }
  }

  func status(for slot: SlotID, deployment: String?) -> SlotStatus? {
    let container = observed[slot]
    let reportedDeployment = deployment ?? container?.labels[ManagedLabels.deployment] ?? ""
    if let problem = problems[slot], problem.deployment == reportedDeployment {
      return SlotStatus(
        slot: slot, deployment: reportedDeployment,
        containerID: container.map { String($0.id.prefix(12)) },
        health: problem.health, message: problem.message)
    }
    guard let container, container.labels[ManagedLabels.deployment] == reportedDeployment else {
      return SlotStatus(
        slot: slot, deployment: reportedDeployment, health: .starting, message: "creating container"
      )
    }
    let id = String(container.id.prefix(12))
    guard container.state == .running else {
      return SlotStatus(
        slot: slot, deployment: reportedDeployment, containerID: id, health: .exited,
        startedAt: container.startedAt,
        message:
          "container \(container.state.rawValue)\(container.exitCode.map { " with code \($0)" } ?? "")"
      )
    }
    let tracker = trackers[slot].flatMap { $0.container == container.id ? $0.tracker : nil }
    let health = tracker?.health ?? .starting
    return SlotStatus(
      slot: slot, deployment: reportedDeployment, containerID: id, health: health,
      startedAt: container.startedAt,
      message: health == .healthy ? nil : tracker?.lastError, imageID: container.imageID,
      cpuUsedMillis: usage[container.id]?.cpuMillis,
      memoryUsedBytes: usage[container.id]?.memoryBytes)
  }
}
