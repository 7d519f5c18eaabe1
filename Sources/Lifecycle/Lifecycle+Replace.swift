import Foundation
import OperatorAPI
import Placement
import SchedModel

/// Re-placement: the slots of a node that is down (silent past its TTL) go to healthy nodes by
/// the same rules as a deploy (labels, per-node limits, resources), one write per set; what
/// fits nowhere is missing, with the reason, and placed on a later pass when room appears.
/// Held while more than half of the nodes are down (the brake): that is most likely the
/// scheduler's own link, and moving everything would only make the return worse.
extension Lifecycle {
  /// One pass over every idle app's sets; at most one set's write (its `.persist` last).
  mutating func replace(_ observed: Observed) -> [LifecycleAction] {
    // Right after a start, nodes are still dialing in: nothing is down for sure yet.
    guard observed.reported == nil else { return [] }
    var actions = brakeActions(observed)
    guard !replacement.holds else {
      replacement.missing = lostSlots(observed).reduce(into: [:]) {
        $0[$1.slot] = "not re-placed: \(replacement.brake?.reason ?? "replacement is braked")"
      }
      return actions
    }
    if let until = replacement.returnsUntil {
      let lost = lostSlots(observed)
      if lost.isEmpty || observed.now >= until {
        replacement.returnsUntil = nil
      } else {
        let left = Int(until.timeIntervalSince(observed.now).rounded(.up))
        replacement.missing = lost.reduce(into: [:]) {
          $0[$1.slot] =
            "not re-placed yet: nodes are returning after the brake; \(left)s more for node \($1.node) to dial in"
        }
        return actions
      }
    }
    var missingNow: [SlotID: String] = [:]
    var newlyMissing: [ClusterEvent] = []
    var write: (app: AppRecord, set: SetRecord, moves: [Move])?
    // The sets with a lost slot, in order (a pass over the slots, not a sort of every set).
    let lostBySet = Dictionary(grouping: lostSlots(observed), by: \.slot.set)
    for key in lostBySet.keys.sorted() {
      guard let set = desired.sets[key], state(of: set.app).phase == .idle,
        let app = desired.apps[set.app], let lost = lostBySet[key]
      else { continue }
      let (moves, unplaced) = placeLost(lost, of: set.key, spec: app.spec, observed)
      for (slot, reason) in unplaced {
        missingNow[slot] = reason
        if replacement.missing[slot] != reason {
          newlyMissing.append(
            ClusterEvent(
              at: observed.now, actor: "scheduler", kind: "slot.missing",
              subject: slot.description,
              detail: "node \(desired.allocations[slot]?.node.rawValue ?? "?") is down; \(reason)"
            ))
        }
      }
      // One set's write per pass; the next pass (after its record) takes the next set.
      if write == nil, !moves.isEmpty { write = (app, set, moves) }
    }
    replacement.missing = missingNow
    if let write {
      return actions + [
        replaceWrite(write.app, set: write.set, moves: write.moves, events: newlyMissing, observed)
      ]
    }
    if !newlyMissing.isEmpty { actions.append(.persist(.events(newlyMissing))) }
    return actions
  }

  /// The operator's word: re-place while the brake would hold (until the nodes return).
  mutating func resumeReplacement(actor: String, _ observed: Observed) -> [LifecycleAction] {
    guard var brake = replacement.brake else {
      return [.reply(.replacement(replacementStatus(observed)))]
    }
    brake.overriddenBy = actor
    replacement.brake = brake
    let event = ClusterEvent(
      at: observed.now, actor: actor, kind: "replacement.resumed", subject: "cluster",
      detail:
        "re-placing although \(brake.down.count) of \(brake.total) nodes are down (operator's word)"
    )
    // The answer after the pass: what moved, and what is still missing and why.
    let moves = replace(observed)
    return [.persist(.events([event]))] + moves
      + [.reply(.replacement(replacementStatus(observed)))]
  }

  /// What status and `schedctl nodes` show of re-placement.
  public func replacementStatus(_ observed: Observed) -> ReplacementStatus {
    ReplacementStatus(
      braked: replacement.holds, reason: replacement.brake?.reason,
      overriddenBy: replacement.brake?.overriddenBy,
      missing: replacement.missing.sorted { $0.key < $1.key }.map {
        ReplacementStatus.Missing(slot: $0.key, reason: $0.value)
      })
  }

  /// A recorded re-placement: the nodes it moved slots to and from are told, and the next
  /// set is looked at.
  mutating func replaced(_ move: Replace, _ observed: Observed) -> [LifecycleAction] {
    [.assign(move.nodes)] + publish(observed) + replace(observed)
  }

  // MARK: pieces

  /// Engages the brake when more than half of the nodes are down (or silent, on their way
  /// down) and slots sit on down nodes; lets it go when no more than half are, and only then
  /// (an operator's word holds for nodes that go down after it); each change is an event.
  private mutating func brakeActions(_ observed: Observed) -> [LifecycleAction] {
    let down = observed.nodes.values.filter {
      $0.state == .down || observed.silent.contains($0.id)
    }.map(\.id).sorted()
    let total = observed.nodes.count
    let gone = down.filter { observed.nodes[$0]?.state == .down }
    let mass = down.count * 2 > total
    if mass, replacement.brake != nil {
      replacement.brake?.wentDown.formUnion(gone)
      return []
    }
    if mass, !lostSlots(observed).isEmpty {
      var brake = ReplacementBrake(since: observed.now, down: down, total: total)
      brake.wentDown = Set(gone)
      replacement.brake = brake
      return [
        Self.clusterEvent(
          "replacement.braked",
          "\(brake.reason): nothing is re-placed until nodes return or an operator says so (schedctl node resume-replacement)",
          observed)
      ]
    }
    guard let brake = replacement.brake else { return [] }
    replacement.brake = nil
    // Nodes return from a mass failure a few seconds apart (each agent's reconnect backoff):
    // when one came back from down, the ones still down get a grace before their slots move,
    // unless an operator already said to move them. (A node that was only slow, silent but
    // never down, is no return: one host's death beside it moves at once.)
    let returned = brake.wentDown.contains { observed.nodes[$0]?.state == .ready }
    var detail = "\(down.count) of \(total) nodes down now (\(brake.down.count) when braked): "
    if brake.overriddenBy == nil, returned, replacement.returnGrace > 0,
      !lostSlots(observed).isEmpty
    {
      replacement.returnsUntil = observed.now.addingTimeInterval(replacement.returnGrace)
      detail +=
        "the slots of nodes still down move in \(Int(replacement.returnGrace.rounded(.up)))s unless those return"
    } else {
      detail += "re-placing again"
    }
    return [Self.clusterEvent("replacement.resumed", detail, observed)]
  }

  /// The write of one event of the scheduler's about the whole cluster.
  private static func clusterEvent(_ kind: String, _ detail: String, _ observed: Observed)
    -> LifecycleAction
  {
    .persist(
      .events([
        ClusterEvent(
          at: observed.now, actor: "scheduler", kind: kind, subject: "cluster", detail: detail)
      ]))
  }

  /// The slots on down (or gone) nodes, by slot: a look at each node in use, not each slot.
  private func lostSlots(_ observed: Observed) -> [Allocation] {
    desired.nodesInUse.filter { (observed.nodes[$0]?.state ?? .down) == .down }
      .flatMap { desired.allocations(on: $0) }.sorted { $0.slot < $1.slot }
  }

  /// New homes for the lost slots of one set, one slot at a time so that each placed one
  /// counts against the next; the slots that fit nowhere, with why.
  private mutating func placeLost(
    _ lost: [Allocation], of set: SetKey, spec: AppSpec, _ observed: Observed
  ) -> (moves: [Move], unplaced: [(SlotID, String)]) {
    var sameSet: [NodeID: Int] = [:]
    for allocation in desired.allocations(of: set) { sameSet[allocation.node, default: 0] += 1 }
    placement.sync(observed)
    var moves: [Move] = []
    var unplaced: [(SlotID, String)] = []
    for allocation in lost {
      let request = SetRequest(
        count: 1, demand: allocation.resources, requiredLabels: spec.constraints,
        maxPerNode: spec.maxPerNode)
      switch try? placement.place(request, sameSet: sameSet) {
      case .placed(let slots)?:
        guard let planned = slots.first else { continue }
        // Held while the rest are placed; the write's record holds it for good.
        placement.hold(allocation.resources, port: planned.hostPort, on: planned.node)
        sameSet[planned.node, default: 0] += 1
        moves.append(Move(from: allocation, to: planned.node, hostPort: planned.hostPort))
      case .unplaced(let slots)?:
        unplaced.append((allocation.slot, "fits nowhere: \(slots.first?.reason ?? "no room")"))
      case nil:
        unplaced.append((allocation.slot, "fits nowhere: the request is invalid"))
      }
    }
    for move in moves {
      placement.release(move.from.resources, port: move.hostPort, on: move.to)
    }
    return (moves, unplaced)
  }

  /// The set's write with the moved slots, an event per slot (from, to, why).
  private mutating func replaceWrite(
    _ app: AppRecord, set: SetRecord, moves: [Move], events: [ClusterEvent],
    _ observed: Observed
  ) -> LifecycleAction {
    var allocations = desired.allocations(of: set.key)
    var slotEvents: [ClusterEvent] = []
    for move in moves {
      guard let index = allocations.firstIndex(where: { $0.slot == move.from.slot }) else {
        continue
      }
      allocations[index].node = move.to
      allocations[index].hostPort = move.hostPort
      let from = move.from.node
      let why =
        observed.nodes[from].map { "node \(from) is down (last heard \(Self.ago($0, observed)))" }
        ?? "node \(from) is gone"
      slotEvents.append(
        ClusterEvent(
          at: observed.now, actor: "scheduler", kind: "slot.replaced",
          subject: move.from.slot.description,
          detail: "from \(from) to \(move.to) (port \(move.hostPort)): \(why)"))
    }
    let nodes = Set(moves.map(\.from.node)).union(moves.map(\.to))
    states[set.app, default: AppState()].phase = .replacing(Replace(set: set.key, nodes: nodes))
    holdPending(set.key, allocations)
    return .persist(.set(app, set.color, set, allocations, events: events + slotEvents))
  }

  private static func ago(_ node: Node, _ observed: Observed) -> String {
    guard let last = node.lastHeartbeatAt else { return "never" }
    return String(format: "%.1fs ago", observed.now.timeIntervalSince(last))
  }

  /// One lost slot and its new home.
  struct Move {
    var from: Allocation
    var to: NodeID
    var hostPort: Int
  }
}

/// Re-placement as the scheduler holds it between passes: the slots that fit nowhere and the
/// mass-failure brake.
public struct ReplacementState: Sendable, Equatable {
  /// Slots on down nodes that could not be re-placed on the last pass, with why.
  public var missing: [SlotID: String] = [:]
  /// Set while more than half of the nodes are down or silent.
  public var brake: ReplacementBrake?
  /// Set when returning nodes let the brake go: until then the nodes still down may dial in
  /// before their slots move.
  public var returnsUntil: Date?
  /// Seconds that grace lasts (the scheduler's grace after start).
  public var returnGrace: TimeInterval = 0

  /// Whether nothing is re-placed now.
  public var holds: Bool {
    guard let brake else { return false }
    return brake.overriddenBy == nil
  }
}

/// The mass-failure brake: engaged when more than half of the nodes went down.
public struct ReplacementBrake: Sendable, Equatable {
  public var since: Date
  /// The nodes down or silent when it engaged.
  public var down: [NodeID]
  public var total: Int
  /// The operator who said to re-place anyway, if one did.
  public var overriddenBy: String?
  /// Every node seen down while it held.
  public var wentDown: Set<NodeID> = []

  var reason: String {
    "\(down.count) of \(total) nodes are down or going down (\(down.map(\.rawValue).joined(separator: ", "))), more than half: most likely the scheduler's own link"
  }
}

/// A re-placement between its decision and its record.
public struct Replace: Sendable, Equatable {
  public var set: SetKey
  /// The nodes slots moved from and to: each is told its list.
  public var nodes: Set<NodeID>
}
