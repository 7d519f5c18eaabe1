import Foundation
import OperatorAPI
import Placement
import RouteTable
import SchedModel

/// The apps' lifecycle as a value: what the scheduler decided (`desired`), what each app is
/// doing (`states`), and the route table last handed to the routers. Events go in with what
/// is observed of the cluster and the time; actions come out for the scheduler's owner to
/// carry out (persist, assign, publish, run a switch, drain, timers, replies). No I/O, no
/// clock: a table test covers every transition.
///
/// ```
/// request ─▶ checks ─▶ phase ─▶ .persist ─▶ .recorded ─▶ apply ─▶ assign, publish, reply
/// switch  ─▶ checks ─▶ .switching ─▶ .runSwitch ─▶ .roundEnded ─▶ live, reply, timers
/// retire  ─▶ .draining ─▶ publish without it, .drain ─▶ .drained ─▶ .persist ─▶ ...
/// ```
public struct Lifecycle: Sendable {
  public internal(set) var desired: Desired
  public internal(set) var states: [String: AppState] = [:]
  /// The table last handed to the routers; epoch 0 before the first.
  public internal(set) var published: RouteTable = .empty
  /// The newest epoch any router reported serving: new epochs outrank it.
  public internal(set) var highestSeen: Int64 = 0
  /// Set when a table should be published but a switch round is open: published at its end.
  public internal(set) var publishPending = false
  /// Re-placement's slots that fit nowhere, and the mass-failure brake.
  public internal(set) var replacement = ReplacementState()
  /// CPU and memory a verification's test run holds on a node, by run.
  public internal(set) var testReservations: [String: (node: NodeID, resources: Resources)] = [:]
  /// Placement's picture of the cluster: the slots and test runs above, kept as they change.
  var placement = PlacementView()
  /// Slots placed whose write is not recorded yet, by set. They are held in placement's
  /// picture meanwhile: the owner awaits the store between a placement and its record, and
  /// another app's deploy placed in that gap must not take their room or host ports.
  var pendingHolds: [SetKey: [Allocation]] = [:]
  /// Each app's routes as last built: a publish rebuilds only the apps that changed.
  var routeCache = RouteCache()

  /// - Parameter returnGrace: how long nodes still down get to dial in after others
  ///   returned and let the brake go (agents reconnect with backoff, a few seconds apart).
  public init(desired: Desired, returnGrace: Duration = .zero) {
    self.desired = desired
    self.replacement.returnGrace = returnGrace.seconds
    for allocation in desired.allocations.values { placement.hold(allocation) }
  }

  /// Makes a committed write true in `desired`, and in placement's picture the slots it
  /// replaces and places.
  mutating func apply(_ write: Write) {
    switch write {
    case .app(let app, _), .restore(let app, _), .set(let app, _, _, _, _):
      routeCache.invalidate(app.name)
    case .live(let name, _, _, _): routeCache.invalidate(name)
    case .events, .verification: break
    }
    guard case .set(let app, let color, _, let allocations, _) = write else {
      desired.apply(write)
      return
    }
    let key = SetKey(app: app.name, color: color)
    releasePending(key)
    for old in desired.allocations(of: key) { placement.release(old) }
    desired.apply(write)
    for new in allocations { placement.hold(new) }
  }

  /// Holds a set's newly placed slots until its write is recorded (or fails).
  mutating func holdPending(_ key: SetKey, _ allocations: [Allocation]) {
    releasePending(key)
    // A slot left where it was is held already.
    let moved = allocations.filter { desired.allocations[$0.slot] != $0 }
    for allocation in moved { placement.hold(allocation) }
    pendingHolds[key] = moved
  }

  mutating func releasePending(_ key: SetKey) {
    for allocation in pendingHolds.removeValue(forKey: key) ?? [] {
      placement.release(allocation)
    }
  }

  /// A test run holds `demand` on `node` (nil: lets go of what it held).
  mutating func setTestReservation(_ run: String, _ held: (node: NodeID, resources: Resources)?) {
    if let old = testReservations[run] { placement.release(old.resources, port: nil, on: old.node) }
    testReservations[run] = held
    if let held { placement.hold(held.resources, port: nil, on: held.node) }
  }

  /// One app's state (idle when it never did anything).
  public func state(of app: String) -> AppState { states[app] ?? AppState() }

  /// Feeds one event; returns what to do, in order.
  public mutating func handle(_ event: LifecycleEvent, _ observed: Observed) -> [LifecycleAction] {
    switch event {
    case .apply(let spec, let actor): return apply(spec, actor: actor, observed)
    case .deploy(let app, let image, let actor, let deployment):
      return deploy(app, image: image, actor: actor, deployment: deployment, observed)
    case .move(let app, let nodes, let avoiding, let actor):
      return move(app, nodes: nodes, avoiding: avoiding, actor: actor, observed)
    case .stopSet(let app, let color, let force, let actor):
      return stopSet(app, color: color, force: force, actor: actor, observed)
    case .switchLive(let ask): return switchLive(ask, observed)
    case .roundEnded(let app, let outcome): return roundEnded(app, outcome, observed)
    case .retire(let app, let timeout, let actor):
      return retire(app, drainTimeoutMillis: timeout, actor: actor, observed)
    case .drained(let app, let left, let millis):
      return drained(app, left: left, millis: millis, observed)
    case .timerFired(let timer): return timerFired(timer, observed)
    case .observed: return publish(observed) + replace(observed)
    case .resumeReplacement(let actor): return resumeReplacement(actor: actor, observed)
    case .routerEpoch(let epoch):
      highestSeen = max(highestSeen, epoch)
      // A router kept a newer table than ours (our clock went back): outrank it.
      guard epoch > published.epoch, published.epoch > 0 else { return [] }
      return publish(observed, force: true)
    case .verify(let app, let actor, let id): return verify(app, actor: actor, id: id, observed)
    case .verificationChanged(let verification): return verificationChanged(verification)
    case .reserveTest(let run, let demand, let constraints):
      return [.reply(.reserved(reserveTest(run, demand: demand, constraints, observed)))]
    case .releaseTest(let run):
      setTestReservation(run, nil)
      return []
    case .recorded(let write): return recorded(write, observed)
    case .recordFailed(let write, let reason): return recordFailed(write, reason: reason)
    }
  }

  // MARK: records

  private mutating func recorded(_ write: Write, _ observed: Observed) -> [LifecycleAction] {
    switch write {
    case .app(let app, _):
      apply(write)
      return publish(observed) + [.reply(.app(app))]
    case .set(_, let color, _, _, _):
      let name = write.appName
      let phase = state(of: name).phase
      apply(write)
      states[name, default: AppState()].phase = .idle
      switch phase {
      case .placing(let deploy) where deploy.set.color == color:
        return deployed(deploy, observed)
      case .stopping(let stop):
        return [.assign(stop.previousNodes)] + publish(observed) + [.reply(.stopped)]
      case .draining(let retire):
        return [.assign(retire.previousNodes)] + publish(observed) + [
          .reply(
            .retired(
              RetireResponse(
                app: name, color: retire.set.color, deployment: retire.set.deployment,
                drainMillis: retire.drainMillis, inFlightLeft: retire.left ?? [:])))
        ]
      case .replacing(let move):
        return replaced(move, observed)
      case .idle, .placing, .switching:
        return publish(observed)
      }
    case .live, .restore:
      apply(write)
      return []
    case .events:
      return []
    case .verification(let verification, _):
      guard verification.state == .running,
        let plan = verificationPlan(verification, observed)
      else { return [] }
      return [.runVerification(plan), .reply(.verification(verification))]
    }
  }

  private mutating func recordFailed(_ write: Write, reason: String) -> [LifecycleAction] {
    let failure = LifecycleError(.failed, "state store: \(reason)")
    switch write {
    case .set(let app, let color, _, _, _):
      releasePending(SetKey(app: app.name, color: color))
      states[write.appName, default: AppState()].phase = .idle
      return [.refuse(failure)]
    case .app:
      return [.refuse(failure)]
    case .verification(let verification, _):
      if verification.state == .running,
        states[verification.app]?.verification?.id == verification.id
      {
        states[verification.app]?.verification = nil
        return [.refuse(failure)]
      }
      return []
    case .live, .restore, .events:
      return []
    }
  }

  // MARK: routes

  /// Every app's routes from the state as it is, sets being retired left out; an app in
  /// `overrides` with that color live.
  mutating func routes(_ observed: Observed, live overrides: [String: Color] = [:])
    -> [AppRoutes]
  {
    let unrouted = Set(states.values.compactMap(\.phase.unrouted))
    var apps = routeCache.refresh(desired, unrouted: unrouted, observed)
    guard !overrides.isEmpty else { return apps }
    for index in apps.indices {
      guard let color = overrides[apps[index].app], var app = desired.apps[apps[index].app]
      else { continue }
      app.live = color
      apps[index] = RouteCache.build(app, desired, unrouted: unrouted, observed)
    }
    return apps
  }

  /// The next epoch: above the last one published and any a router reported, and at least
  /// the time in milliseconds, so a restarted scheduler outranks the tables routers kept.
  func nextEpoch(_ now: Date) -> Int64 {
    max(published.epoch + 1, Int64(now.timeIntervalSince1970 * 1000), highestSeen + 1)
  }

  /// Publishes the table when it changed. Held while a switch round is open (it is published
  /// when the round ends), and right after a restart until every node with slots reported.
  mutating func publish(_ observed: Observed, force: Bool = false) -> [LifecycleAction] {
    // `deferringPublish` first: `roundOpen` looks at every app, and a batch publishes once.
    if deferringPublish || roundOpen {
      publishPending = true
      return []
    }
    publishPending = false
    guard observed.knowsSlots(on: desired.nodesInUse) else { return [] }
    let apps = routes(observed)
    guard force || apps != published.apps || published.epoch == 0 else { return [] }
    published = RouteTable(epoch: nextEpoch(observed.now), apps: apps)
    return [.publish(published)]
  }

  /// While set, a change that would publish the route table marks it pending instead
  /// (`publishDeferred` publishes once): a batch of deploys builds the table once, not per
  /// deploy.
  public var deferringPublish = false

  /// The route table, if a publish was deferred (or held back by a round that has ended).
  public mutating func publishDeferred(_ observed: Observed) -> [LifecycleAction] {
    guard publishPending else { return [] }
    return publish(observed)
  }

  // MARK: timers

  private mutating func timerFired(_ timer: LifecycleTimer, _ observed: Observed)
    -> [LifecycleAction]
  {
    switch timer {
    case .keepWarm(let name, let deployment):
      // Only if the set switched to is still live: another switch, a rollback or a retire
      // came first otherwise.
      guard let app = desired.apps[name], let live = app.live,
        desired.sets[SetKey(app: name, color: live)]?.deployment == deployment,
        desired.sets[SetKey(app: name, color: live.other)] != nil
      else { return [] }
      return retire(name, drainTimeoutMillis: nil, actor: "scheduler:keep_warm", observed)
    }
  }

  // MARK: helpers

  /// A switch round is under way (of any app): each carries the whole table.
  var roundOpen: Bool {
    states.values.contains { if case .switching = $0.phase { true } else { false } }
  }

  /// The app, and the refusal when it is missing or busy.
  func idleApp(_ name: String) -> Result<AppRecord, LifecycleError> {
    guard let app = desired.apps[name] else { return .failure(.noApp(name)) }
    let phase = state(of: name).phase
    guard phase == .idle else { return .failure(.busy(name, phase)) }
    return .success(app)
  }
}

extension Write {
  /// The name of the app this write is about ("" for events alone).
  var appName: String {
    switch self {
    case .app(let app, _), .restore(let app, _): app.name
    case .live(let name, _, _, _): name
    case .set(let app, _, _, _, _): app.name
    case .verification(let verification, _): verification.app
    case .events: ""
    }
  }
}
