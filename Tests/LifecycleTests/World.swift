import Foundation
import Lifecycle
import RouteTable
import SchedModel

/// A lifecycle with the cluster around it made of values: nodes, slot reports, the time and
/// the routers. `run` feeds an event and, like the scheduler's owner, hands every persist back
/// as recorded (or failed), so one call plays a request to its end.
struct World {
  var core = Lifecycle(desired: Desired())
  var nodes: [Node] = ["n1", "n2"].map(World.node)
  var reports: SlotReports = [:]
  var now = Date(timeIntervalSince1970: 1_800_000_000)
  var routers = ["r1", "r2"]
  /// Nodes that reported since the start; nil: all trusted.
  var reported: Set<NodeID>? = nil
  /// Ready nodes that missed beats (on their way down).
  var silent: Set<NodeID> = []

  var observed: Observed {
    Observed(nodes: nodes, reports: reports, now: now, reported: reported, silent: silent)
  }

  static func node(_ id: String) -> Node {
    Node(
      spec: NodeSpec(
        id: NodeID(id), name: id, address: "10.0.0.\(id.dropFirst())",
        capacity: Resources(cpuMillis: 1000, memoryBytes: 1 << 30),
        ports: try! PortRange(low: 20000, high: 20009)),
      state: .ready, generation: 1, registeredAt: Date(timeIntervalSince1970: 1_800_000_000))
  }

  static func spec(
    _ name: String = "web", slots: Int = 2, cpu: Int64 = 100, keepWarmMillis: Int64? = nil
  ) -> AppSpec {
    AppSpec(
      name: name, image: "\(name):1", slots: slots,
      resources: Resources(cpuMillis: cpu, memoryBytes: 32 << 20), hosts: ["\(name).example"],
      keepWarmMillis: keepWarmMillis)
  }

  /// Every action of the chain `event` starts; persists commit unless `failing`.
  @discardableResult
  mutating func run(_ event: LifecycleEvent, failing: Bool = false) -> [LifecycleAction] {
    var out: [LifecycleAction] = []
    var queue = core.handle(event, observed)
    while !queue.isEmpty {
      let action = queue.removeFirst()
      out.append(action)
      if case .persist(let write) = action {
        queue += core.handle(
          failing ? .recordFailed(write, reason: "disk full") : .recorded(write), observed)
      }
    }
    return out
  }

  /// Time passes.
  mutating func advance(seconds: TimeInterval) { now = now.addingTimeInterval(seconds) }

  /// The agents report every slot of `set` with `health`, running `image`.
  mutating func report(_ set: SetKey, _ health: SlotHealth = .healthy, image: String = "sha256:a") {
    guard let record = core.desired.sets[set] else { return }
    for allocation in core.desired.allocations(of: set) {
      reports[allocation.slot] = (
        allocation.node,
        SlotStatus(
          slot: allocation.slot, deployment: record.deployment, health: health, imageID: image)
      )
    }
  }

  /// An app applied, deployed blue (live) and, when `green`, green deployed too; every slot
  /// healthy.
  mutating func deployed(_ spec: AppSpec = World.spec(), green: Bool = true) {
    run(.apply(spec, actor: "op"))
    run(.deploy(app: spec.name, image: nil, actor: "op", deployment: "d1"))
    report(SetKey(app: spec.name, color: .blue))
    guard green else { return }
    advance(seconds: 60)
    run(.deploy(app: spec.name, image: "\(spec.name):2", actor: "op", deployment: "d2"))
    report(SetKey(app: spec.name, color: .green), image: "sha256:b")
  }

  /// The green set of `World.deployed` verified and passed.
  mutating func verified() {
    run(.verify(app: "web", actor: "op", id: "v1"))
    guard var verification = core.state(of: "web").verification else { return }
    verification.state = .passed
    verification.finishedAt = now
    run(.verificationChanged(verification))
  }

  /// A switch ask from the operator, with the routers connected now.
  func ask(_ app: String = "web", rollback: Bool = false, force: Bool = false) -> LifecycleEvent {
    .switchLive(
      SwitchAsk(
        app: app, rollback: rollback, force: force, actor: "op", routers: routers,
        acceptedAt: now))
  }
}

extension [LifecycleAction] {
  /// The refusal in these actions, if any.
  var refusal: LifecycleError? {
    for case .refuse(let error) in self { return error }
    return nil
  }

  var reply: LifecycleReply? {
    for case .reply(let reply) in self { return reply }
    return nil
  }

  var plan: SwitchPlan? {
    for case .runSwitch(let plan) in self { return plan }
    return nil
  }

  var published: [RouteTable] {
    compactMap { if case .publish(let table) = $0 { table } else { nil } }
  }

  var writes: [Write] {
    compactMap { if case .persist(let write) = $0 { write } else { nil } }
  }

  /// Kinds of the events every write carries.
  var eventKinds: [String] {
    writes.flatMap { write -> [ClusterEvent] in
      switch write {
      case .app(_, let events), .restore(_, let events), .live(_, _, _, let events),
        .set(_, _, _, _, let events), .events(let events), .verification(_, let events):
        events
      }
    }.map(\.kind)
  }
}
