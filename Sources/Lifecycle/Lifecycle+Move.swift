import Foundation
import OperatorAPI
import SchedModel

/// Moving a live set: a copy of it built as the idle color, on the nodes a rebalance chose.
extension Lifecycle {
  /// Builds a copy of the live set of `name` as its idle color: the same image and deployment,
  /// on `nodes` (slot i on nodes[i]) or, without them, wherever placement puts it off
  /// `avoiding`. The switch to the copy needs no new verification (it is the deployment that
  /// serves production); the copy replaces a standby set of the idle color, as a deploy does.
  /// A candidate (an idle set newer than the live one, not yet switched to) is never replaced:
  /// the operator built it.
  mutating func move(
    _ name: String, nodes: [NodeID]?, avoiding: Set<NodeID>, actor: String, _ observed: Observed
  ) -> [LifecycleAction] {
    let app: AppRecord
    switch idleApp(name) {
    case .failure(let refusal): return [.refuse(refusal)]
    case .success(let found): app = found
    }
    guard let live = app.live, let current = desired.sets[SetKey(app: name, color: live)] else {
      return [
        .refuse(
          LifecycleError(
            .conflict, "\(name) has no live set to move; deploy it first (schedctl deploy \(name))"
          ))
      ]
    }
    if let idle = desired.sets[SetKey(app: name, color: live.other)],
      idle.createdAt > current.createdAt
    {
      return [
        .refuse(
          LifecycleError(
            .conflict,
            "\(name) has a candidate set (\(idle.color.rawValue), deployment \(idle.deployment)) that is not live: switch to it (schedctl switch \(name)) or retire it (schedctl stop-set \(name) \(idle.color.rawValue)) before its live set is moved"
          ))
      ]
    }
    if let nodes, nodes.count != app.spec.slots {
      return [
        .refuse(
          LifecycleError(
            .invalid,
            "\(nodes.count) nodes given for the \(app.spec.slots) slots of \(name): give one node per slot"
          ))
      ]
    }
    let from = desired.allocations(of: current.key).map(\.node.rawValue).sorted()
    return deploy(
      name, image: current.image, actor: actor, deployment: current.deployment, pinned: nodes,
      avoiding: avoiding,
      note:
        "rebalance: a copy of the live \(live.rawValue) set (on \(from.joined(separator: ", ")))",
      observed)
  }

  /// Whether `target` is a copy of the live set (`move`): same deployment and image, and its
  /// slots run the digest the live slots run.
  func isCopyOfLive(_ app: AppRecord, target: SetRecord, digest: String, _ observed: Observed)
    -> Bool
  {
    guard let live = app.live, let current = desired.sets[SetKey(app: app.name, color: live)],
      current.color != target.color, current.deployment == target.deployment,
      current.image == target.image
    else { return false }
    let reports = observed.reports
    let digests = desired.allocations(of: current.key).map {
      reports[$0.slot, on: $0.node]?.imageID
    }
    return !digests.isEmpty && digests.allSatisfy { $0 == digest }
  }
}

extension Lifecycle {
  /// The apps in the middle of something, with what: a phase, a deploy whose set is still
  /// coming up, a running verification. A rebalance waits for them.
  public func busyApps(_ observed: Observed) -> [String: String] {
    var busy: [String: String] = [:]
    for (name, state) in states {
      if state.phase != .idle {
        busy[name] = "\(state.phase.doing) is in progress"
      } else if state.verifyLock != nil {
        busy[name] = "a verification is running"
      } else if let lock = state.deployLock,
        lock.holds(progress(of: lock, app: name, observed), now: observed.now)
      {
        busy[name] = "its deploy is coming up"
      }
    }
    return busy
  }
}
