import Foundation
import Lifecycle
import OperatorAPI
import RouteTable
import SchedModel
import SchedStore

/// The switch and the rollback: the lifecycle decides and plans, the round runs here.
extension AppService {
  /// Makes the other set of `name` live on every router, two-phase (see `Lifecycle.switchLive`
  /// for the rules). Answers once the record is on disk.
  public func switchLive(
    _ name: String, rollback: Bool, force: Bool = false, actor: String
  ) async throws(LifecycleError) -> SwitchResponse {
    let accepted = Date()
    let observed = await observe()
    var stored: [Verification] = []
    if !rollback, let digest = core.storedVerificationsNeeded(name, observed) {
      stored = (try? await store.verifications(app: name, digest: digest, limit: 20)) ?? []
    }
    let ask = SwitchAsk(
      app: name, rollback: rollback, force: force, actor: actor,
      routers: await routers.connectedNames, stored: stored, acceptedAt: accepted)
    do throws(LifecycleError) {
      guard
        case .switched(let response) = try await request(.switchLive(ask), observed: observed)
      else {
        throw Self.noAnswer
      }
      counters.switchEnded(
        app: name, rollback: rollback, committed: true,
        seconds: Date().timeIntervalSince(accepted))
      logger.info(
        "\(rollback ? "rollback" : "switch") committed",
        metadata: [
          "app.name": "\(name)", "from": "\(response.from?.rawValue ?? "")",
          "to": "\(response.to.rawValue)", "epoch": "\(response.epoch)",
        ])
      return response
    } catch {
      // A round that ran (or could not start for want of routers) counts as aborted; a
      // refusal of the request itself does not.
      if error.code != .conflict || error.message.hasPrefix("another switch") {
        counters.switchEnded(
          app: name, rollback: rollback, committed: false,
          seconds: Date().timeIntervalSince(accepted))
      }
      throw error
    }
  }

  /// The switch's round, top to bottom: prepare on every router with the record started
  /// alongside, decide on the acks, then commit everywhere once the record is committed, or
  /// abort. The acks settle on the event loops that read them; the record's sync to disk is
  /// handed back, to be awaited before the operator is answered. A crash between the record
  /// and the commit leaves the switch recorded, and the routers get it from the table
  /// published after the restart.
  func runSwitch(_ plan: SwitchPlan) async -> (RoundOutcome, durable: PendingWrite?) {
    let clock = ContinuousClock()
    let started = clock.now
    // 1. Prepare: the record starts right after the prepares are written, before the first
    // ack can be read; its commit (no sync) is far shorter than the routers' round trip.
    let round = await routers.prepare(plan.table)
    guard case .live(let name, let color, let at, let events) = plan.record else {
      return (.recordFailed(reason: "the switch has no record"), nil)
    }
    let record = store.startSettingLive(name, to: color, at: at, events: events)
    // 2. Decide on the acks.
    var decision = SwitchRound(epoch: plan.epoch, routers: round.routers)
    if decision.decision == .waiting {
      _ = decision.settle(await routers.prepareAnswers(round, timeout: switchTimeout))
    }
    let prepared = clock.now
    guard decision.decision == .commit else {
      let reason = decision.abortReason ?? "not committed"
      await routers.abort(round, reason: reason)
      _ = await record.committed.result
      return (.aborted(reason: reason, recorded: true), nil)
    }
    // 3. The record is committed before any router commits.
    if case .failure(let error) = await record.committed.result {
      await routers.abort(round, reason: "the scheduler could not record the switch")
      return (.recordFailed(reason: "\(error)"), nil)
    }
    // 4. Commit everywhere.
    let lagging = await routers.commit(round, timeout: switchTimeout)
    return (
      .committed(
        routers: round.routers.sorted(), lagging: lagging,
        prepareMillis: RouterHub.millis(prepared - started),
        commitMillis: RouterHub.millis(clock.now - prepared)),
      record.durable
    )
  }

  /// The operator hears of a switch once its record is on disk.
  func syncFailure(_ plan: SwitchPlan, _ durable: PendingWrite) async -> LifecycleError? {
    guard case .failure(let error) = await durable.result else { return nil }
    logger.error(
      "\(plan.verb) record not synced to disk",
      metadata: ["app.name": "\(plan.app)", "error": "\(error)"])
    return LifecycleError(
      .failed,
      "\(plan.verb) done: \(plan.to.color.rawValue) is live at epoch \(plan.epoch) on every router, but the scheduler could not sync its record to disk (\(error.message)); check the disk that holds the state database"
    )
  }
}
