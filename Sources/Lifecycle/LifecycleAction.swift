import Foundation
import OperatorAPI
import RouteTable
import SchedModel

/// What the lifecycle asks its owner to carry out. A `.persist` is always the last action of
/// its batch: what follows from it comes back as `.recorded` or `.recordFailed`.
public enum LifecycleAction: Sendable, Equatable {
  /// Commit a write to the store, then hand back `.recorded` (or `.recordFailed`).
  case persist(Write)
  /// Send these nodes their complete slot lists (`assign`).
  case assign(Set<NodeID>)
  /// Install this table on every router (it is the one new routers get, too).
  case publish(RouteTable)
  /// Run a switch's two-phase round, then hand back `.roundEnded`.
  case runSwitch(SwitchPlan)
  /// Ask every router to drain a set, then hand back `.drained`.
  case drain(app: String, color: Color, timeoutMillis: Int64)
  /// Fire `timer` after `millis` (replacing the same timer if pending).
  case schedule(LifecycleTimer, afterMillis: Int64)
  /// Forget a pending timer.
  case cancel(LifecycleTimer)
  /// Run a verification's tests and checks in the background, handing back
  /// `.verificationChanged` as it goes.
  case runVerification(VerificationPlan)
  /// The answer to the request that started this chain.
  case reply(LifecycleReply)
  /// The request is refused, or failed.
  case refuse(LifecycleError)
}

/// What a request is answered with.
public enum LifecycleReply: Sendable, Equatable {
  case app(AppRecord)
  case deployed(DeployResponse)
  case stopped
  case switched(SwitchResponse)
  case retired(RetireResponse)
  case verification(Verification)
  case reserved(NodeID?)
  case replacement(ReplacementStatus)
}

/// A switch decided and checked: the table every router prepares and its record.
public struct SwitchPlan: Sendable, Equatable {
  public var app: String
  public var rollback: Bool
  public var actor: String
  public var from: SetRecord
  public var to: SetRecord
  /// The next table, at its epoch, with `to` live.
  public var table: RouteTable
  /// The switch's own record: the app's live color and its event.
  public var record: Write
  /// Set when a failing gate was passed with --force: the reason, logged after the commit.
  public var forcedPast: String?
  public var acceptedAt: Date

  public var epoch: Int64 { table.epoch }
  /// "switch" or "rollback", as messages say it.
  public var verb: String { rollback ? "rollback" : "switch" }
}

/// A verification to run: the candidate's slots, where they listen, and the app's tests and
/// checks.
public struct VerificationPlan: Sendable, Equatable {
  public var verification: Verification
  public var spec: AppSpec
  /// Each candidate slot and where it listens.
  public var slots: [Slot]

  /// One candidate slot: its node checks it on `hostPort`; routers reach it at `address`.
  public struct Slot: Sendable, Equatable {
    public var slot: SlotID
    public var node: NodeID
    public var hostPort: Int
    public var address: String
  }
}
