import Foundation
import Lifecycle
import Logging
import OperatorAPI
import SchedModel
import SchedStore
import SchedWire

/// The scheduler's live view of its nodes: one actor owns it, the store keeps it.
///
/// Every change is made in memory first and then committed with its event, so readers never see
/// a state the store would not have.
public actor Cluster {
  let store: any StateStore
  let policy: LivenessPolicy
  let logger: Logger
  let now: @Sendable () -> Date

  /// The nodes, changed only when a decision could read the change (a registration, a state,
  /// a removal): `observed` hands this dictionary out, and a write to it after that copies
  /// every node. What a heartbeat brings is in `beats` until the node is read whole.
  private(set) var nodes: [NodeID: Node] = [:]
  /// Each node's last heartbeat: its time and usage (`Node.lastHeartbeatAt`, `Node.usage`).
  private var beats: [NodeID: (at: Date, usage: HostUsage)] = [:]
  /// When each node was last heard from. In memory only: after a restart every node gets the
  /// policy's grace after start (a TTL at least) to reconnect before it is marked down.
  private var lastSeen: [NodeID: Date] = [:]
  /// `silentNodes` as last computed: when, at which nodes revision, and the set.
  private var silentCache: (at: Date, revision: Int, silent: Set<NodeID>)?
  /// When each node's heartbeat was last written to the store. A heartbeat changes only the
  /// node's last-seen time and usage, which the store keeps for `nodes` after a restart: one
  /// write per `heartbeatPersistInterval` is enough, and keeps a synced write per beat off the
  /// store's single writer, where switches and deploys wait for their turn.
  private var lastPersisted: [NodeID: Date] = [:]
  static let heartbeatPersistInterval: TimeInterval = 30
  /// Heartbeats due to be written, written together on the next sweep: one transaction for
  /// all nodes instead of one each (at 10,000 nodes, 333 a second).
  private var unpersisted: [NodeID: HeartbeatRecord] = [:]
  var sessions: [NodeID: AgentSession] = [:]
  /// Each node's slots as its agent last reported them.
  private(set) var slotReports: [NodeID: [SlotID: SlotStatus]] = [:]
  /// The same, replaced only when something decisions read changed (not the containers'
  /// CPU and memory samples): what `observed` hands out. A node's unchanged entry stays the
  /// same storage, so the lifecycle finds what changed without comparing every slot.
  private var decidedReports: [NodeID: [SlotID: SlotStatus]] = [:]
  /// Each node's image fetches from the store, as its last heartbeat told.
  private(set) var pullReports: [NodeID: [ImagePull]] = [:]
  var pendingAcks: [String: CheckedContinuation<CommandAck, any Error>] = [:]
  /// The node each pending command went to, so a disconnect fails its commands at once.
  var pendingNodes: [String: NodeID] = [:]
  /// When this scheduler loaded its state.
  let bootedAt: Date
  /// Goes up whenever what placement reads of the nodes changes: a node's spec or state, a
  /// node added or removed (`Observed.nodesRevision`). Heartbeats leave it.
  private(set) var nodesRevision = 0
  var commandCounter = 0

  init(
    store: any StateStore, policy: LivenessPolicy, logger: Logger,
    now: @escaping @Sendable () -> Date
  ) async throws(StoreError) {
    self.store = store
    self.policy = policy
    self.logger = logger
    self.now = now
    let boot = now()
    self.bootedAt = boot
    // A node loaded from the store expires when the grace after start ends.
    let loadedSeen = boot.addingTimeInterval(policy.graceAfterStart.seconds - policy.ttlSeconds)
    for node in try await store.nodes() {
      nodes[node.id] = node
      lastSeen[node.id] = loadedSeen
    }
  }

  /// The last reported status of every slot, by slot.
  public func slotStatuses() -> [SlotID: (node: NodeID, status: SlotStatus)] {
    var out: [SlotID: (node: NodeID, status: SlotStatus)] = [:]
    for (node, statuses) in slotReports.sorted(by: { $0.key > $1.key }) {
      for status in statuses.values { out[status.slot] = (node, status) }
    }
    return out
  }

  /// What the lifecycle decides on: nodes, slot reports and the time. The reports of a node
  /// can be trusted for routing once it reported since this scheduler started, or once the
  /// grace after start has passed (after which a silent node is down anyway).
  func observed() -> Observed {
    let at = now()
    let trusted = at.timeIntervalSince(bootedAt) > policy.graceAfterStart.seconds
    return Observed(
      nodes: nodes, reports: SlotReports(byNode: decidedReports), now: at,
      reported: trusted ? nil : Set(decidedReports.keys), pulls: pullReports,
      silent: silentNodes(at: at), nodesRevision: nodesRevision)
  }

  /// Ready nodes that missed beats. A pass over every node, so it is kept for a tenth of a
  /// second (silence is counted in heartbeat intervals, seconds): a burst of decisions, such
  /// as a batch of deploys at 10,000 nodes, reads it once.
  private func silentNodes(at: Date) -> Set<NodeID> {
    if let cached = silentCache, cached.revision == nodesRevision,
      (0..<0.1).contains(at.timeIntervalSince(cached.at))
    {
      return cached.silent
    }
    var silent = Set<NodeID>()
    for (id, seen) in lastSeen where policy.isSilent(lastSeen: seen, now: at) {
      if nodes[id]?.state == .ready { silent.insert(id) }
    }
    silentCache = (at, nodesRevision, silent)
    return silent
  }

  /// All nodes with their last heartbeat, sorted by id.
  public func snapshot() -> [Node] {
    nodes.values.map(withBeat).sorted { $0.id < $1.id }
  }

  /// The node with its last heartbeat's time and usage.
  private func withBeat(_ node: Node) -> Node {
    guard let beat = beats[node.id] else { return node }
    var node = node
    node.lastHeartbeatAt = beat.at
    node.usage = beat.usage
    return node
  }

  /// Records a registration and returns the node's new generation once it is committed.
  ///
  /// A node id held by a connection that is still heartbeating is refused: two hosts with the
  /// same name would otherwise take turns evicting each other. A silent holder (a half-open
  /// connection) loses the id once its TTL has passed.
  func register(_ spec: NodeSpec, session: AgentSession) async throws(SchedulerError) -> Int64 {
    let at = now()
    if let holder = sessions[spec.id], !holder.isReplaced, let seen = lastSeen[spec.id],
      !policy.isExpired(lastSeen: seen, now: at)
    {
      throw SchedulerError(
        .duplicateNode,
        "node id '\(spec.id)' is already connected from \(holder.peer); give each agent its own --name or --node-id"
      )
    }
    let previous = nodes[spec.id].map(withBeat)
    let generation = (previous?.generation ?? 0) + 1
    let node = Node(
      spec: spec, state: .ready, generation: generation, registeredAt: at,
      lastHeartbeatAt: previous?.lastHeartbeatAt, usage: previous?.usage)
    var events = [
      ClusterEvent(
        at: at, actor: "node:\(spec.id)", kind: "node.registered", subject: spec.id.rawValue,
        detail:
          "generation \(generation) from \(session.peer): \(Quantity.formatCPU(spec.capacity.cpuMillis)) CPU, \(Quantity.formatMemory(spec.capacity.memoryBytes)) memory, ports \(spec.ports)"
      )
    ]
    if previous?.state == .down {
      events.append(
        ClusterEvent(
          at: at, actor: "node:\(spec.id)", kind: "node.up", subject: spec.id.rawValue,
          detail: "registered again after being down"))
    }
    nodes[spec.id] = node
    nodesRevision += 1
    lastSeen[spec.id] = at
    silentCache = nil
    // What the node's slots were before it (re)registered says nothing of them now (a node back
    // from the dead had its containers die with it): unknown, and out of every route table,
    // until its first heartbeat reports them.
    slotReports[spec.id] = nil
    decidedReports[spec.id] = nil
    sessions[spec.id]?.replaced()
    sessions[spec.id] = session
    do {
      try await store.saveNode(node, events: events)
    } catch {
      throw SchedulerError(.store, "registration not saved: \(error)")
    }
    logger.info(
      "node registered", metadata: ["node.id": "\(spec.id)", "node.generation": "\(generation)"])
    return generation
  }

  /// Whether `session` is the node's current connection (a newer registration replaces it).
  func isCurrent(_ session: AgentSession, for node: NodeID) -> Bool {
    sessions[node] === session
  }

  /// Records a heartbeat and says what it changed that the lifecycle decides on.
  ///
  /// Most beats change only usage and times, which no decision reads: the scheduler's pass
  /// over every app (a snapshot of every node) is then left to the periodic refresh, so a
  /// beat costs the same whether the cluster has ten nodes or ten thousand.
  @discardableResult
  func heartbeat(
    node id: NodeID, usage: HostUsage, slots: [SlotStatus] = [], drift: [DriftReport] = [],
    pulls: [ImagePull] = []
  ) async throws(StoreError) -> BeatOutcome {
    guard nodes[id] != nil else { return .quiet }
    let at = now()
    let reports = Dictionary(slots.map { ($0.slot, $0) }) { _, last in last }
    let newPulls = pulls.isEmpty ? nil : pulls
    let wasSilent = lastSeen[id].map { policy.isSilent(lastSeen: $0, now: at) } ?? true
    let reportsChanged = Self.differ(decidedReports[id], reports)
    let pullsChanged = pullReports[id] != newPulls
    let outcome: BeatOutcome = wasSilent || pullsChanged || reportsChanged ? .changed : .quiet
    slotReports[id] = reports
    // Written only when changed: what `observed` handed out is then not copied on every beat.
    if reportsChanged { decidedReports[id] = reports }
    if pullsChanged { pullReports[id] = newPulls }
    if !drift.isEmpty {
      try await store.appendEvents(
        drift.map {
          ClusterEvent(
            at: at, actor: "node:\(id)", kind: "slot.drift",
            subject: $0.slot?.description ?? $0.container, detail: "\($0.container): \($0.detail)")
        })
    }
    lastSeen[id] = at
    // A node heard from is not silent any more: the kept set must not say it is.
    if silentCache?.silent.contains(id) == true { silentCache = nil }
    beats[id] = (at, usage)
    if var node = nodes[id], node.state == .down {
      node.state = .ready
      node.usage = usage
      node.lastHeartbeatAt = at
      nodes[id] = node
      nodesRevision += 1
      logger.info("node is back up", metadata: ["node.id": "\(id)"])
      try await store.saveNode(
        node,
        events: [
          ClusterEvent(
            at: at, actor: "node:\(id)", kind: "node.up", subject: id.rawValue,
            detail: "heartbeat received after being down")
        ])
      return .back
    } else {
      if let written = lastPersisted[id],
        at.timeIntervalSince(written) < Self.heartbeatPersistInterval
      {
        return outcome
      }
      lastPersisted[id] = at
      unpersisted[id] = HeartbeatRecord(node: id, usage: usage, at: at)
      return outcome
    }
  }

  /// Whether two reports of a node's slots differ in what decisions read: anything but the
  /// containers' CPU and memory samples, which change with every beat.
  static func differ(_ old: [SlotID: SlotStatus]?, _ new: [SlotID: SlotStatus]) -> Bool {
    guard let old, old.count == new.count else { return true }
    for (slot, status) in new {
      guard var before = old[slot] else { return true }
      before.cpuUsedMillis = status.cpuUsedMillis
      before.memoryUsedBytes = status.memoryUsedBytes
      if before != status { return true }
    }
    return false
  }

  func disconnected(node id: NodeID, session: AgentSession) {
    guard sessions[id] === session else { return }
    sessions[id] = nil
    failCommands(of: id)
    logger.info("node disconnected", metadata: ["node.id": "\(id)"])
  }

  /// Writes the heartbeats due since the last call, in one transaction.
  func persistHeartbeats() async {
    guard !unpersisted.isEmpty else { return }
    let beats = Array(unpersisted.values)
    unpersisted.removeAll(keepingCapacity: true)
    do {
      try await store.recordHeartbeats(beats)
    } catch {
      logger.error(
        "cannot persist heartbeats", metadata: ["nodes": "\(beats.count)", "error": "\(error)"])
    }
  }

  /// Marks down every ready node silent for longer than the TTL (and writes the heartbeats
  /// due). Returns the ids marked down.
  @discardableResult
  func sweep() async -> [NodeID] {
    await persistHeartbeats()
    let at = now()
    var marked: [NodeID] = []
    // Nodes past the TTL first (a pass over times only), then the ready ones among them.
    let expired = lastSeen.compactMap { id, seen in
      policy.isExpired(lastSeen: seen, now: at) ? id : nil
    }
    for id in expired.sorted() {
      guard let node = nodes[id], node.state == .ready, let seen = lastSeen[id] else { continue }
      var down = withBeat(node)
      down.state = .down
      nodes[id] = down
      nodesRevision += 1
      marked.append(id)
      let silence = String(format: "%.1f", at.timeIntervalSince(seen))
      logger.warning("node marked down", metadata: ["node.id": "\(id)", "silence.s": "\(silence)"])
      do {
        try await store.saveNode(
          down,
          events: [
            ClusterEvent(
              at: at, actor: "scheduler", kind: "node.down", subject: id.rawValue,
              detail:
                "no heartbeat for \(silence)s (\(policy.missedBeats) intervals of \(policy.heartbeatInterval))"
            )
          ])
      } catch {
        logger.error(
          "cannot persist node down", metadata: ["node.id": "\(id)", "error": "\(error)"])
      }
    }
    return marked
  }

  /// Removes a node for good: only when its agent is not connected and it holds no slots.
  /// Its certificates are revoked in the same transaction, so it cannot connect again (it
  /// must join afresh with a join token). Returns how many certificates were revoked.
  func remove(_ id: NodeID, actor: String) async throws(SchedulerError) -> Int {
    guard nodes[id] != nil else {
      throw SchedulerError(.notFound, "no node '\(id)'; schedctl nodes lists them")
    }
    if sessions[id] != nil {
      throw SchedulerError(
        .conflict,
        "node '\(id)' is connected: stop its agent first (systemctl stop sched-agent on it); its slots move to other nodes once it is down, then remove it"
      )
    }
    let at = now()
    let revoked: Int
    do {
      revoked = try await store.removeNode(
        id, at: at,
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: "node.removed", subject: id.rawValue,
            detail: "removed from the cluster; its certificates are revoked")
        ])
    } catch  where error.code == .conflict {
      throw SchedulerError(
        .conflict,
        "\(error.message): they move to other nodes when there is room (schedctl status shows where); remove the node once it holds none"
      )
    } catch {
      throw SchedulerError(.store, "the node was not removed: \(error.message)")
    }
    nodes[id] = nil
    nodesRevision += 1
    beats[id] = nil
    lastSeen[id] = nil
    lastPersisted[id] = nil
    unpersisted[id] = nil
    slotReports[id] = nil
    decidedReports[id] = nil
    pullReports[id] = nil
    logger.notice(
      "node removed", metadata: ["node.id": "\(id)", "certificates.revoked": "\(revoked)"])
    return revoked
  }
}

/// What a heartbeat changed that the lifecycle decides on.
enum BeatOutcome: Sendable, Equatable {
  /// Only usage and times: the periodic pass is soon enough.
  case quiet
  /// Slot reports, image fetches or the node's liveness (it had missed beats) changed: a pass
  /// now, so a health change reaches the routers at once.
  case changed
  /// A down node came back: its slot list is sent again, and a pass.
  case back
}
