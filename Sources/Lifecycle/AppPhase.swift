import Foundation
import SchedModel

/// What an app is doing: one exclusive operation at a time. A second one is refused with the
/// first named, never interleaved.
public enum AppPhase: Sendable, Equatable {
  case idle
  /// A deploy's set and reservations are being written.
  case placing(Deploy)
  /// A stop's record is being written.
  case stopping(Stop)
  /// A two-phase round across the routers is under way.
  case switching(SwitchPlan)
  /// A retire: its set is out of the tables and the routers drain it, then its record is
  /// written.
  case draining(Retire)
  /// Slots of a down node are being moved: the set's new reservations are being written.
  case replacing(Replace)

  /// "a deploy", "a switch", ...: what a refusal names.
  var doing: String {
    switch self {
    case .idle: "nothing"
    case .placing: "a deploy"
    case .stopping: "a stop"
    case .switching(let plan): plan.rollback ? "a rollback" : "a switch"
    case .draining: "a retire"
    case .replacing: "a re-placement"
    }
  }

  /// The set this phase keeps out of the route table (a retire's).
  var unrouted: SetKey? {
    if case .draining(let retire) = self { return retire.set.key }
    return nil
  }
}

/// A deploy between its placement and its record.
public struct Deploy: Sendable, Equatable {
  public var set: SetRecord
  public var actor: String
  /// Nodes that held the color's earlier slots: they are told to stop them.
  public var previousNodes: Set<NodeID>
}

/// A stop between its decision and its record.
public struct Stop: Sendable, Equatable {
  public var set: SetKey
  public var previousNodes: Set<NodeID>
}

/// A retire of the set that is not live.
public struct Retire: Sendable, Equatable {
  public var set: SetRecord
  public var actor: String
  public var timeoutMillis: Int64
  public var previousNodes: Set<NodeID>
  /// Set once the routers answered the drain: requests still in flight per router (-1: no
  /// answer) and how long the drain took.
  public var left: [String: Int64]?
  public var drainMillis: Double = 0
}

/// The timers the lifecycle asks for; each fires back as an event.
public enum LifecycleTimer: Sendable, Hashable {
  /// keep_warm passed after a switch to `deployment`: retire the old set unless another
  /// switch, a rollback or a retire came first.
  case keepWarm(app: String, deployment: String)
}

/// One app's state beside its records: the phase, the lock a deploy or a verification
/// holds, its last verification in this process.
public struct AppState: Sendable, Equatable {
  public var phase: AppPhase = .idle
  /// A deploy's hold while its set comes up. (A running verification holds the app too; its
  /// lock is made from `verification`.)
  public var deployLock: AppLock?
  /// The running verification, or the last one this process ran.
  public var verification: Verification?
  /// The keep_warm timer pending since the last switch.
  public var keepWarm: LifecycleTimer?

  public init() {}

  /// The lock a running verification holds.
  var verifyLock: AppLock? {
    guard let verification, verification.state == .running else { return nil }
    return AppLock(
      .verify(id: verification.id), holder: verification.actor, since: verification.startedAt)
  }
}
