import Foundation
import SchedModel

/// What happens to the apps: operators' requests, the effects' results, the cluster's
/// changes and timers. `Lifecycle.handle` turns each into actions.
public enum LifecycleEvent: Sendable {
  /// `schedctl app apply`.
  case apply(AppSpec, actor: String)
  /// `schedctl deploy`; `deployment` is the new deployment's id (made by the caller: it
  /// holds the time and a random part).
  case deploy(app: String, image: String?, actor: String, deployment: String)
  /// `schedctl rebalance --apply`: a copy of the live set on `nodes` (one per slot), or off
  /// `avoiding` without them.
  case move(app: String, nodes: [NodeID]?, avoiding: Set<NodeID>, actor: String)
  /// `schedctl stop-set`.
  case stopSet(app: String, color: Color, force: Bool, actor: String)
  /// `schedctl switch` and `rollback`.
  case switchLive(SwitchAsk)
  /// The switch's round across the routers ended.
  case roundEnded(app: String, RoundOutcome)
  /// `schedctl retire` (or keep_warm's).
  case retire(app: String, drainTimeoutMillis: Int64?, actor: String)
  /// The routers answered a retire's drain: requests left in flight per router (-1: no
  /// answer in time), and how long it took.
  case drained(app: String, left: [String: Int64], millis: Double)
  /// A timer asked for by `.schedule` fired.
  case timerFired(LifecycleTimer)
  /// Nodes or slot reports changed (or time passed): routes may change, slots of down
  /// nodes are re-placed.
  case observed
  /// An operator says to re-place although the mass-failure brake holds.
  case resumeReplacement(actor: String)
  /// A router reported serving `epoch` (newer than any seen before).
  case routerEpoch(Int64)
  /// `schedctl verify`; `id` is the new verification's id.
  case verify(app: String, actor: String, id: String)
  /// A running verification made progress or ended.
  case verificationChanged(Verification)
  /// A verification's test run asks for room on a node.
  case reserveTest(run: String, demand: Resources, constraints: [String: String])
  /// A test run ended; its room is free again.
  case releaseTest(run: String)
  /// A `.persist` committed.
  case recorded(Write)
  /// A `.persist` failed; nothing of it is committed.
  case recordFailed(Write, reason: String)
}

/// A switch or rollback as asked, with what the caller gathered for it.
public struct SwitchAsk: Sendable {
  public var app: String
  public var rollback: Bool
  public var force: Bool
  public var actor: String
  /// Routers connected now: every one must ack.
  public var routers: [String]
  /// Stored verifications of the candidate's digest (newest first), read when
  /// `Lifecycle.storedVerificationsNeeded` said so; empty otherwise.
  public var stored: [Verification]
  public var acceptedAt: Date

  public init(
    app: String, rollback: Bool, force: Bool, actor: String, routers: [String],
    stored: [Verification] = [], acceptedAt: Date
  ) {
    self.app = app
    self.rollback = rollback
    self.force = force
    self.actor = actor
    self.routers = routers
    self.stored = stored
    self.acceptedAt = acceptedAt
  }
}

/// How a switch's round ended.
public enum RoundOutcome: Sendable, Equatable {
  /// Every router asked (`routers`) acked, the record committed, the routers were told to
  /// commit; `lagging` did not ack the commit in time (they were sent the table to install).
  case committed(routers: [String], lagging: [String], prepareMillis: Double, commitMillis: Double)
  /// A router refused, left or did not ack in time: nothing changed. `recorded`: the
  /// switch's record may have landed and must be undone.
  case aborted(reason: String, recorded: Bool)
  /// The scheduler could not write the switch's record: nothing changed.
  case recordFailed(reason: String)
}
