import Foundation
import SchedModel

/// What the scheduler decided: apps, their sets and the slots' reservations. The lifecycle
/// core keeps it in memory; every change is a `Write` the store commits first and `apply`
/// then makes here, so memory and disk never disagree about a committed decision.
public struct Desired: Sendable, Equatable {
  public private(set) var apps: [String: AppRecord] = [:]
  public private(set) var sets: [SetKey: SetRecord] = [:]
  public private(set) var allocations: [SlotID: Allocation] = [:]
  /// The slots of each set, and on each node: a set's or a node's reservations without a pass
  /// over every one.
  private var slotsOfSet: [SetKey: Set<SlotID>] = [:]
  private var slotsOnNode: [NodeID: Set<SlotID>] = [:]

  public init(apps: [AppRecord] = [], sets: [SetRecord] = [], allocations: [Allocation] = []) {
    for app in apps { self.apps[app.name] = app }
    for set in sets { self.sets[set.key] = set }
    for allocation in allocations { add(allocation) }
  }

  /// Apps sorted by name.
  public var appList: [AppRecord] { apps.values.sorted { $0.name < $1.name } }
  /// Sets sorted by app and color.
  public var setList: [SetRecord] { sets.values.sorted { $0.key < $1.key } }
  /// Allocations sorted by slot.
  public var allocationList: [Allocation] { allocations.values.sorted { $0.slot < $1.slot } }

  /// The sets of `app`, blue first.
  public func sets(of app: String) -> [SetRecord] {
    Color.allCases.compactMap { sets[SetKey(app: app, color: $0)] }
  }

  /// The reservations of one set, by slot index.
  public func allocations(of set: SetKey) -> [Allocation] {
    (slotsOfSet[set] ?? []).compactMap { allocations[$0] }.sorted { $0.slot.index < $1.slot.index }
  }

  /// The reservations on one node, by slot.
  public func allocations(on node: NodeID) -> [Allocation] {
    (slotsOnNode[node] ?? []).compactMap { allocations[$0] }.sorted { $0.slot < $1.slot }
  }

  /// The slots reserved on one node, unordered.
  public func slots(on node: NodeID) -> Set<SlotID> { slotsOnNode[node] ?? [] }

  /// The nodes that hold a reservation.
  public var nodesInUse: Dictionary<NodeID, Set<SlotID>>.Keys { slotsOnNode.keys }

  private mutating func add(_ allocation: Allocation) {
    remove(allocation.slot)
    allocations[allocation.slot] = allocation
    slotsOfSet[allocation.slot.set, default: []].insert(allocation.slot)
    slotsOnNode[allocation.node, default: []].insert(allocation.slot)
  }

  private mutating func remove(_ slot: SlotID) {
    guard let gone = allocations.removeValue(forKey: slot) else { return }
    slotsOfSet[gone.slot.set]?.remove(slot)
    if slotsOfSet[gone.slot.set]?.isEmpty == true { slotsOfSet[gone.slot.set] = nil }
    slotsOnNode[gone.node]?.remove(slot)
    if slotsOnNode[gone.node]?.isEmpty == true { slotsOnNode[gone.node] = nil }
  }

  /// Makes a committed write true here.
  public mutating func apply(_ write: Write) {
    switch write {
    case .app(let app, _), .restore(let app, _):
      apps[app.name] = app
    case .live(let name, let color, _, _):
      apps[name]?.live = color
    case .set(let app, let color, let set, let allocations, _):
      apps[app.name] = app
      let key = SetKey(app: app.name, color: color)
      sets[key] = set
      for slot in slotsOfSet[key] ?? [] { remove(slot) }
      for allocation in allocations { add(allocation) }
    case .events:
      break
    case .verification:
      break
    }
  }
}

/// One transaction of the scheduler's state, with the events that record it.
public enum Write: Sendable, Equatable {
  /// An app's record.
  case app(AppRecord, events: [ClusterEvent])
  /// An app's record put back as this state holds it (an aborted switch's record, which
  /// may have landed while the routers prepared, undone).
  case restore(AppRecord, events: [ClusterEvent])
  /// Only an app's live color (the switch's own narrow record).
  case live(String, Color?, at: Date, events: [ClusterEvent])
  /// One color of an app: its set (nil: gone) and its reservations, replaced whole.
  case set(AppRecord, Color, SetRecord?, [Allocation], events: [ClusterEvent])
  /// Events only.
  case events([ClusterEvent])
  /// A verification's record.
  case verification(Verification, events: [ClusterEvent])
}
