import Foundation
import SchedModel

/// Retire: the set that is not live leaves every router's table, the routers drain it, then
/// its containers stop and its reservations are freed.
extension Lifecycle {
  mutating func retire(
    _ name: String, drainTimeoutMillis: Int64?, actor: String, _ observed: Observed
  ) -> [LifecycleAction] {
    let app: AppRecord
    switch idleApp(name) {
    case .failure(let refusal): return [.refuse(refusal)]
    case .success(let found): app = found
    }
    guard let live = app.live else {
      return [
        .refuse(LifecycleError(.conflict, "\(name) has no live set; there is nothing to retire"))
      ]
    }
    guard let old = desired.sets[SetKey(app: name, color: live.other)] else {
      return [
        .refuse(
          LifecycleError(
            .notFound, "\(name) has only its live \(live.rawValue) set; nothing to retire"))
      ]
    }
    var actions: [LifecycleAction] = []
    if let pending = states[name]?.keepWarm {
      actions.append(.cancel(pending))
      states[name]?.keepWarm = nil
    }
    let timeout = max(0, drainTimeoutMillis ?? app.spec.drainTimeoutMillis)
    states[name, default: AppState()].phase = .draining(
      Retire(
        set: old, actor: actor, timeoutMillis: timeout,
        previousNodes: Set(desired.allocations(of: old.key).map(\.node))))
    return actions + publish(observed) + [
      .drain(app: name, color: old.color, timeoutMillis: timeout)
    ]
  }

  /// The routers answered the drain: the set's record goes.
  mutating func drained(
    _ name: String, left: [String: Int64], millis: Double, _ observed: Observed
  ) -> [LifecycleAction] {
    guard case .draining(var retire) = state(of: name).phase, let app = desired.apps[name]
    else { return [] }
    retire.left = left
    retire.drainMillis = millis
    states[name]?.phase = .draining(retire)
    let drained =
      left.isEmpty
      ? "drained in \(Int(millis)) ms"
      : "drain timeout \(retire.timeoutMillis) ms passed with requests in flight: "
        + left.sorted { $0.key < $1.key }.map {
          "\($0.key) \($0.value < 0 ? "no answer" : "\($0.value)")"
        }
        .joined(separator: ", ")
    let old = retire.set
    return [
      .persist(
        removal(
          app, color: old.color, actor: retire.actor, kind: "app.retired",
          detail: "\(old.color.rawValue) (\(old.deployment), \(old.image)) \(drained)",
          at: observed.now))
    ]
  }
}
