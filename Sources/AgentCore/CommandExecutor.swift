import SchedModel
import SchedWire

/// Carries out scheduler commands on this host. The container runtime plugs in here.
public protocol CommandExecutor: Sendable {
  func execute(_ action: CommandAction) async -> CommandAck
  /// The state of every managed slot, for the next heartbeat.
  func slotStatuses() async -> [SlotStatus]
  /// Corrections made since the last call, for the next heartbeat.
  func takeDrift() async -> [DriftReport]
  /// Images being fetched from the cluster's store, or fetched or failed since the last
  /// assignment, for the next heartbeat.
  func imagePulls() async -> [ImagePull]
  /// Whether a slot's health changed since the last `slotStatuses()`: the agent then sends
  /// a heartbeat at once instead of at the next interval, so the scheduler routes a slot as
  /// soon as it is healthy (and stops routing one as soon as it is not).
  func reportDue() async -> Bool
}

extension CommandExecutor {
  public func imagePulls() async -> [ImagePull] { [] }
  public func reportDue() async -> Bool { false }
}

/// The executor of an agent started without a container runtime: it refuses every command and
/// says why, so the scheduler reports it instead of waiting.
public struct NoRuntimeExecutor: CommandExecutor {
  public init() {}

  public func execute(_ action: CommandAction) async -> CommandAck {
    CommandAck(
      ok: false,
      message: "\(action.kind.rawValue) refused: this agent has no container runtime configured")
  }

  public func slotStatuses() async -> [SlotStatus] { [] }
  public func takeDrift() async -> [DriftReport] { [] }
}
