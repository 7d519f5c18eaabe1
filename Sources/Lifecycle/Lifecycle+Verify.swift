import Foundation
import Placement
import SchedModel

/// `schedctl verify`'s decisions: which set is the candidate and which image it runs, when a
/// verification may start, and the switch's gate.
extension Lifecycle {
  /// What a candidate set is: its record, slots and the one image id they all run.
  public struct Candidate: Sendable {
    public var set: SetRecord
    public var allocations: [Allocation]
    public var digest: String
  }

  /// The candidate set of `app` as it runs now, or why it cannot be verified.
  public func candidate(of app: AppRecord, _ observed: Observed)
    -> Result<Candidate, LifecycleError>
  {
    let name = app.name
    guard let set = desired.sets(of: name).first(where: { $0.color != app.live }) else {
      return .failure(
        LifecycleError(
          .conflict, "\(name) has no candidate set; deploy one first (schedctl deploy \(name))"))
    }
    let allocations = desired.allocations(of: set.key)
    let slots = slotViews(of: set, observed)
    guard !slots.isEmpty, slots.allSatisfy({ $0.health == .healthy }) else {
      return .failure(
        LifecycleError(
          .conflict,
          "the \(set.color.rawValue) set of \(name) is not ready: \(SetViews.notHealthy(slots).joined(separator: "; ")); wait until every slot is healthy (schedctl status \(name))"
        ))
    }
    let reports = observed.reports
    let digests = Set(allocations.compactMap { reports[$0.slot, on: $0.node]?.imageID })
    guard digests.count == 1, let digest = digests.first,
      allocations.allSatisfy({ reports[$0.slot, on: $0.node]?.imageID != nil })
    else {
      return .failure(
        LifecycleError(
          .conflict,
          digests.count > 1
            ? "the slots of the \(set.color.rawValue) set of \(name) run different images (\(digests.sorted().joined(separator: ", "))): \(set.image) names different builds on different nodes; build it once and load the same image everywhere"
            : "the agents have not reported the image id of every \(set.color.rawValue) slot of \(name) yet; try again in a moment"
        ))
    }
    return .success(Candidate(set: set, allocations: allocations, digest: digest))
  }

  /// Starts a verification of the candidate set of `name`.
  mutating func verify(_ name: String, actor: String, id: String, _ observed: Observed)
    -> [LifecycleAction]
  {
    guard let app = desired.apps[name] else { return [.refuse(.noApp(name))] }
    if let running = state(of: name).verification, running.state == .running {
      return [
        .refuse(
          LifecycleError(
            .conflict,
            "verification \(running.id) of \(name) is still running; follow it with schedctl verify \(name) --show"
          ))
      ]
    }
    if let refusal = lockRefusal(name, asked: "verify", observed) { return [.refuse(refusal)] }
    let candidate: Candidate
    switch self.candidate(of: app, observed) {
    case .failure(let refusal): return [.refuse(refusal)]
    case .success(let found): candidate = found
    }
    let set = candidate.set
    let verification = Verification(
      id: id, app: name, color: set.color, deployment: set.deployment, image: set.image,
      digest: candidate.digest, actor: actor, startedAt: observed.now)
    states[name, default: AppState()].verification = verification
    return [
      .persist(
        .verification(
          verification,
          events: [
            ClusterEvent(
              at: observed.now, actor: actor, kind: "app.verify_started", subject: name,
              detail:
                "\(id): the \(set.color.rawValue) set (\(set.deployment), \(set.image), \(candidate.digest))"
            )
          ]))
    ]
  }

  /// The plan of a verification whose start is recorded.
  func verificationPlan(_ verification: Verification, _ observed: Observed) -> VerificationPlan? {
    guard let app = desired.apps[verification.app] else { return nil }
    let key = SetKey(app: verification.app, color: verification.color)
    let slots = desired.allocations(of: key).compactMap { allocation -> VerificationPlan.Slot? in
      guard let node = observed.nodes[allocation.node] else { return nil }
      return .init(
        slot: allocation.slot, node: allocation.node, hostPort: allocation.hostPort,
        address: "\(node.spec.address):\(allocation.hostPort)")
    }
    return VerificationPlan(verification: verification, spec: app.spec, slots: slots)
  }

  /// A running verification made progress; its end is recorded.
  mutating func verificationChanged(_ verification: Verification) -> [LifecycleAction] {
    guard states[verification.app]?.verification?.id == verification.id else { return [] }
    states[verification.app]?.verification = verification
    guard verification.state != .running else { return [] }
    let passed = verification.state == .passed
    return [
      .persist(
        .verification(
          verification,
          events: [
            ClusterEvent(
              at: verification.finishedAt ?? verification.startedAt, actor: verification.actor,
              kind: passed ? "app.verified" : "app.verify_failed", subject: verification.app,
              detail:
                "\(verification.id) of \(verification.deployment) (\(verification.digest)): \(passed ? "\(verification.steps.count) steps passed" : verification.summary ?? "failed")"
            )
          ]))
    ]
  }

  /// The digest whose stored verifications a switch of `name` needs: nil when the verification
  /// this process ran last already passes it (no read on the switch's path) or there is no
  /// candidate to look up.
  public func storedVerificationsNeeded(_ name: String, _ observed: Observed) -> String? {
    guard let app = desired.apps[name], case .success(let candidate) = candidate(of: app, observed),
      !passedHere(candidate)
    else { return nil }
    return candidate.digest
  }

  /// The verification this process ran last passed the candidate's digest and deployment.
  func passedHere(_ candidate: Candidate) -> Bool {
    guard let recent = state(of: candidate.set.app).verification else { return false }
    return recent.state == .passed && recent.digest == candidate.digest
      && recent.deployment == candidate.set.deployment
  }

  /// The switch's gate: nil when the candidate's digest and deployment passed a verification,
  /// else why not.
  func gate(_ app: AppRecord, target: SetRecord, _ observed: Observed, stored: [Verification])
    -> String?
  {
    let candidate: Candidate
    switch self.candidate(of: app, observed) {
    case .failure(let error): return error.message
    case .success(let found): candidate = found
    }
    if passedHere(candidate) { return nil }
    // A copy of the live set (a rebalance moving it) runs what serves production now.
    if isCopyOfLive(app, target: target, digest: candidate.digest, observed) { return nil }
    let recent = state(of: app.name).verification
    let mine = stored.filter { $0.deployment == target.deployment && $0.digest == candidate.digest }
    if mine.contains(where: { $0.state == .passed }) { return nil }
    guard let last = mine.first else {
      return
        "deployment \(target.deployment) (\(target.image), \(candidate.digest)) has not been verified"
    }
    // The one this process runs is newer than its stored start.
    let latest = recent?.id == last.id ? recent ?? last : last
    switch latest.state {
    case .running where recent?.id == last.id:
      return "its verification \(last.id) is still running"
    case .running:
      return
        "its verification \(last.id) was interrupted (the scheduler restarted during it); run schedctl verify \(app.name) again"
    case .passed, .failed:
      return
        "its last verification (\(last.id)) failed: \(latest.summary ?? "see schedctl verify \(app.name) --show")"
    }
  }

  /// Holds `demand` on a ready node with room for it (slots and other test runs counted).
  mutating func reserveTest(
    _ run: String, demand: Resources, _ constraints: [String: String], _ observed: Observed
  ) -> NodeID? {
    let request = SetRequest(count: 1, demand: demand, requiredLabels: constraints, maxPerNode: nil)
    placement.sync(observed)
    guard case .placed(let planned)? = try? placement.place(request),
      let node = planned.first?.node
    else { return nil }
    setTestReservation(run, (node, demand))
    return node
  }
}
