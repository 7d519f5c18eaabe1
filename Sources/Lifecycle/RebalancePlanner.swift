import Foundation
import OperatorAPI
import Placement
import SchedModel

/// The rebalance plan: every live set repacked at once (`Repack`) on the ready nodes, the sets
/// whose nodes change as moves, the standby sets retired, and the nodes left empty. Pure.
public enum RebalancePlanner {
  /// The plan for `desired` on `nodes`; `busy` names the apps that are in the middle of
  /// something (what they are doing), which blocks a plan.
  public static func plan(_ desired: Desired, nodes: [Node], busy: [String: String])
    -> RebalancePlan
  {
    let ready = nodes.filter { $0.state == .ready }
    let readyIDs = Set(ready.map(\.id))
    let held = Set(desired.nodesInUse)
    let inUse = held.intersection(readyIDs).count
    func blocked(_ reason: String) -> RebalancePlan {
      RebalancePlan(
        nodesInUse: inUse, nodesAfter: inUse, lowerBound: 0, moves: [], standby: [], freed: [],
        blocked: reason)
    }
    if let (app, doing) = busy.min(by: { $0.key < $1.key }) {
      return blocked("\(app) is busy (\(doing)); run the rebalance again once it settles")
    }
    var live: [(app: AppRecord, set: SetRecord, slots: [Allocation])] = []
    var standby: [RebalancePlan.Standby] = []
    for app in desired.appList {
      guard let color = app.live, let set = desired.sets[SetKey(app: app.name, color: color)]
      else { continue }
      let slots = desired.allocations(of: set.key)
      if let down = slots.first(where: { !readyIDs.contains($0.node) }) {
        return blocked(
          "slot \(down.slot) of \(app.name) is on node \(down.node), which is not ready: wait until it is replaced (schedctl status \(app.name))"
        )
      }
      if let idle = desired.sets[SetKey(app: app.name, color: color.other)] {
        guard idle.createdAt <= set.createdAt else {
          return blocked(
            "\(app.name) has a candidate set (\(idle.color.rawValue), deployment \(idle.deployment)) that is not live: switch to it or retire it first"
          )
        }
        standby.append(
          .init(
            app: app.name, color: idle.color,
            nodes: desired.allocations(of: idle.key).map(\.node)))
      }
      live.append((app, set, slots))
    }
    let requests = live.map { entry in
      SetRequest(
        count: entry.slots.count, demand: entry.app.spec.resources,
        requiredLabels: entry.app.spec.constraints, maxPerNode: entry.app.spec.maxPerNode)
    }
    var heldLive: [NodeID: Resources] = [:]
    for entry in live {
      for slot in entry.slots {
        heldLive[slot.node] = (heldLive[slot.node] ?? .zero) + slot.resources
      }
    }
    let targets = ready.map {
      Repack.Target(
        id: $0.id, capacity: $0.spec.capacity, labels: $0.spec.labels, ports: $0.spec.ports.count,
        heldNow: heldLive[$0.id] ?? .zero)
    }
    let bound = lowerBound(requests, capacities: ready.map(\.spec.capacity))
    guard let placed = Repack.plan(requests, on: targets) else {
      return blocked(
        "no placement of the live sets on the ready nodes was found (their constraints, per-node limits and sizes); nothing to do"
      )
    }
    let after = Set(placed.joined())
    guard after.count < inUse else {
      return RebalancePlan(
        nodesInUse: inUse, nodesAfter: inUse, lowerBound: bound, moves: [], standby: [],
        freed: [])
    }
    var moves: [RebalancePlan.Move] = []
    for (entry, to) in zip(live, placed) {
      let from = entry.slots.map(\.node)
      guard from.sorted() != to.sorted() else { continue }
      moves.append(.init(app: entry.app.name, color: entry.set.color, from: from, to: to))
    }
    return RebalancePlan(
      nodesInUse: inUse, nodesAfter: after.count, lowerBound: bound, moves: moves,
      standby: standby, freed: held.intersection(readyIDs).subtracting(after).sorted())
  }

  /// The fewest of these nodes, largest first, whose CPU and memory could hold the sets' total.
  static func lowerBound(_ sets: [SetRequest], capacities: [Resources]) -> Int {
    var need = Resources.zero
    for set in sets { need = need + set.demand * set.count }
    func fewest(_ value: (Resources) -> Int64) -> Int {
      var left = value(need)
      var count = 0
      for capacity in capacities.map(value).sorted(by: >) where left > 0 {
        left -= capacity
        count += 1
      }
      return count
    }
    return max(fewest(\.cpuMillis), fewest(\.memoryBytes))
  }
}
