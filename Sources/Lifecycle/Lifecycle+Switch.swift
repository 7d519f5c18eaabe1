import Foundation
import OperatorAPI
import RouteTable
import SchedModel

/// The switch and the rollback: which set may go live, the plan the routers prepare, and what
/// the round's end changes.
extension Lifecycle {
  /// Makes the other set of an app live. A switch needs every slot of the candidate healthy
  /// and a passing verification of its digest (or `force`); a rollback goes back to the set
  /// that was live before (older than the live one) and needs one healthy slot. No container
  /// is started either way.
  mutating func switchLive(_ ask: SwitchAsk, _ observed: Observed) -> [LifecycleAction] {
    let name = ask.app
    let verb = ask.rollback ? "rollback" : "switch"
    let app: AppRecord
    switch idleApp(name) {
    case .failure(let refusal): return [.refuse(refusal)]
    case .success(let found): app = found
    }
    guard let live = app.live, let current = desired.sets[SetKey(app: name, color: live)] else {
      return [
        .refuse(
          LifecycleError(
            .conflict, "\(name) has no live set; deploy it first (schedctl deploy \(name))"))
      ]
    }
    guard let target = desired.sets[SetKey(app: name, color: live.other)] else {
      return [
        .refuse(
          LifecycleError(
            .conflict,
            ask.rollback
              ? "\(name) has no previous set to roll back to: it was retired"
              : "\(name) has no candidate set; deploy one first (schedctl deploy \(name))"))
      ]
    }
    let slots = slotViews(of: target, observed)
    let healthy = slots.filter { $0.health == .healthy }.count
    if ask.rollback {
      guard target.createdAt <= current.createdAt else {
        return [
          .refuse(
            LifecycleError(
              .conflict,
              "the \(target.color.rawValue) set of \(name) (\(target.deployment)) is newer than the live one: it is a candidate, not a previous set; use schedctl switch \(name)"
            ))
        ]
      }
      guard healthy > 0 else {
        return [
          .refuse(
            LifecycleError(
              .conflict,
              "rollback refused: no slot of the \(target.color.rawValue) set of \(name) is healthy"
            ))
        ]
      }
    } else {
      guard !slots.isEmpty, healthy == slots.count else {
        return [
          .refuse(
            LifecycleError(
              .conflict,
              "switch refused: the \(target.color.rawValue) set of \(name) is not ready: \(SetViews.notHealthy(slots).joined(separator: "; ")); \(live.rawValue) stays live"
            ))
        ]
      }
    }
    // The gate: a switch (not a rollback, whose set served production before) needs a passing
    // verification of the candidate's digest and deployment, unless forced.
    var forcedPast: String?
    if !ask.rollback {
      let gate = gate(app, target: target, observed, stored: ask.stored)
      if let failing = gate {
        guard ask.force else {
          // The other set is the one that served before: going back is a rollback.
          let hint =
            target.createdAt < current.createdAt
            ? "it is the set that was live before \(live.rawValue); to go back to it, run schedctl rollback \(name)"
            : "run schedctl verify \(name), or switch with --force"
          return [
            .refuse(
              LifecycleError(
                .conflict,
                "switch refused: the \(target.color.rawValue) set of \(name) has no passing verification: \(failing); \(hint); \(live.rawValue) stays live"
              ))
          ]
        }
        forcedPast = failing
      }
    }
    let apps = routes(observed, live: [name: target.color])
    guard (apps.first { $0.app == name }?.live?.upstreams.count ?? 0) > 0 else {
      return [
        .refuse(
          LifecycleError(
            .conflict,
            "\(verb) refused: no slot of the \(target.color.rawValue) set is routable"))
      ]
    }
    // One round at a time: each carries the whole table, so a second one would put the
    // first one's app back.
    let reason: String? =
      roundOpen
      ? "another switch is in progress; try again in a moment"
      : SwitchRound(epoch: 0, routers: Set(ask.routers)).abortReason
    if let reason {
      return [
        .refuse(LifecycleError(roundOpen ? .conflict : .unavailable, reason)),
        .persist(.events([abortEvent(name, verb: verb, live: live, reason, ask.actor, observed)])),
      ]
    }
    let at = observed.now
    let epoch = nextEpoch(at)
    let detail =
      "from \(live.rawValue) (\(current.deployment), \(current.image)) to \(target.color.rawValue) (\(target.deployment), \(target.image)) on router(s) \(ask.routers.sorted().joined(separator: ", ")) at epoch \(epoch)"
    let plan = SwitchPlan(
      app: name, rollback: ask.rollback, actor: ask.actor, from: current, to: target,
      table: RouteTable(epoch: epoch, apps: apps),
      record: .live(
        name, target.color, at: at,
        events: [
          ClusterEvent(
            at: at, actor: ask.actor, kind: ask.rollback ? "app.rolled_back" : "app.switched",
            subject: name, detail: detail)
        ]), forcedPast: forcedPast, acceptedAt: ask.acceptedAt)
    states[name, default: AppState()].phase = .switching(plan)
    return [.runSwitch(plan)]
  }

  /// The round ended: on a commit the new color is live here too and the table is the one
  /// served; on an abort nothing changed (and the record, if it landed, is undone).
  mutating func roundEnded(_ name: String, _ outcome: RoundOutcome, _ observed: Observed)
    -> [LifecycleAction]
  {
    guard case .switching(let plan) = state(of: name).phase else { return [] }
    states[name]?.phase = .idle
    let live = plan.from.color
    switch outcome {
    case .committed(let routers, let lagging, let prepareMillis, let commitMillis):
      apply(plan.record)
      published = plan.table
      var actions: [LifecycleAction] = [
        .reply(
          .switched(
            SwitchResponse(
              app: name, from: live, to: plan.to.color, deployment: plan.to.deployment,
              epoch: plan.epoch, routers: routers, lagging: lagging,
              prepareMillis: prepareMillis, commitMillis: commitMillis,
              acceptedAt: plan.acceptedAt)))
      ]
      actions += keepWarm(after: plan)
      if publishPending { actions += publish(observed) }
      if let forcedPast = plan.forcedPast {
        actions.append(
          .persist(
            .events([
              ClusterEvent(
                at: observed.now, actor: plan.actor, kind: "app.switch_forced", subject: name,
                detail:
                  "to \(plan.to.color.rawValue) (\(plan.to.deployment), \(plan.to.image)) at epoch \(plan.epoch) without a passing verification: \(forcedPast)"
              )
            ])))
      }
      return actions
    case .aborted(let reason, let recorded):
      var actions: [LifecycleAction] = [
        .refuse(LifecycleError(.unavailable, "switch aborted, nothing changed: \(reason)"))
      ]
      if publishPending { actions += publish(observed) }
      return actions + [undo(plan, reason: reason, recorded: recorded, observed)]
    case .recordFailed(let reason):
      var actions: [LifecycleAction] = [
        .refuse(
          LifecycleError(
            .failed, "switch aborted, nothing changed: cannot record it: \(reason)"))
      ]
      if publishPending { actions += publish(observed) }
      return actions + [undo(plan, reason: "cannot record it: \(reason)", recorded: true, observed)]
    }
  }

  /// The abort's event; with `recorded`, in the same write as putting the live color back.
  private func undo(_ plan: SwitchPlan, reason: String, recorded: Bool, _ observed: Observed)
    -> LifecycleAction
  {
    let event = abortEvent(
      plan.app, verb: plan.verb, live: plan.from.color, reason, plan.actor, observed,
      undone: recorded)
    guard recorded, let app = desired.apps[plan.app] else { return .persist(.events([event])) }
    return .persist(.restore(app, events: [event]))
  }

  private func abortEvent(
    _ name: String, verb: String, live: Color?, _ reason: String, _ actor: String,
    _ observed: Observed, undone: Bool = false
  ) -> ClusterEvent {
    ClusterEvent(
      at: observed.now, actor: actor, kind: "app.\(verb)_aborted", subject: name,
      detail: "\(live?.rawValue ?? "nothing") stays live: \(reason)"
        + (undone
          ? " (the switch's own record, written while the routers prepared, is undone)" : ""))
  }

  /// After a switch, the old set is retired once keep_warm has passed.
  private mutating func keepWarm(after plan: SwitchPlan) -> [LifecycleAction] {
    var actions: [LifecycleAction] = []
    if let pending = states[plan.app]?.keepWarm {
      actions.append(.cancel(pending))
      states[plan.app]?.keepWarm = nil
    }
    guard let millis = desired.apps[plan.app]?.spec.keepWarmMillis else { return actions }
    let timer = LifecycleTimer.keepWarm(app: plan.app, deployment: plan.to.deployment)
    states[plan.app]?.keepWarm = timer
    return actions + [.schedule(timer, afterMillis: millis)]
  }
}

extension SwitchRound {
  /// Why a round with these routers aborts before it starts (none connected), if it does.
  public var abortReason: String? {
    if case .abort(let reason) = decision { return reason }
    return nil
  }
}
