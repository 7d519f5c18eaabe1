import Foundation
import Logging
import RouteTable
import SchedModel
import SchedStore
import SchedWire

/// The scheduler's side of every router: who is connected, the table they should serve, the
/// two-phase switch across all of them, drains, and their traffic reports.
///
/// Epochs only grow: each new table gets max(last + 1, now in milliseconds, newest epoch a
/// router reported + 1), so a restarted scheduler still outranks the tables routers kept on disk.
public actor RouterHub {
  struct Peer {
    var session: RouterSession?
    /// The newest epoch this connection acknowledged or reported serving: a router's epoch only
    /// grows while it stays connected, so an older report arriving late changes nothing.
    var epoch: Int64 = 0
    var traffic: [SetTraffic] = []
    /// When the router process behind the reports started (from its reports).
    var startedAt: Date?
    /// Counts of the router's earlier processes: totals carry across its restarts.
    var carried: [SetTraffic] = []
    var lastReport: Date?
    var connectedAt: Date

    /// The router acknowledged or reported serving `epoch`.
    mutating func serving(_ epoch: Int64) { self.epoch = max(self.epoch, epoch) }
  }

  typealias Failure = RouterAnswers.Failure

  private let logger: Logger
  private let now: @Sendable () -> Date
  private var peers: [String: Peer] = [:]
  /// Requests waiting for a router's answer. Shared with each router connection's
  /// `RouterAnswerTap`, which settles answers on the event loop that reads them.
  nonisolated let answers = RouterAnswers()
  private var counter = 0
  private var highestSeen: Int64 = 0
  /// The table every router should serve; epoch 0 until the first publish.
  public private(set) var table: RouteTable = .empty
  private var switching = false

  init(logger: Logger, now: @escaping @Sendable () -> Date) {
    self.logger = logger
    self.now = now
  }

  // MARK: connections

  /// A router said hello. A name held by a live connection is refused; otherwise `welcome` is
  /// sent, then the current table.
  func connected(_ session: RouterSession, welcome: Frame) throws(SchedulerError) {
    if let holder = peers[session.name]?.session, !holder.isReplaced {
      throw SchedulerError(
        .duplicateNode,
        "router name '\(session.name)' is already connected from \(holder.peer); give each router its own --name"
      )
    }
    var peer = peers[session.name] ?? Peer(connectedAt: now())
    peer.session = session
    peer.connectedAt = now()
    // A restarted router may serve an older table from its disk: unknown until it says.
    peer.epoch = 0
    peers[session.name] = peer
    session.send(welcome)
    logger.info(
      "router connected", metadata: ["router": "\(session.name)", "peer": "\(session.peer)"])
    if table.epoch > 0 {
      session.send(
        Frame(id: nextID(Self.installPrefix), .routes(Routes(phase: .install, table: table))))
    }
  }

  func disconnected(_ session: RouterSession) {
    guard peers[session.name]?.session === session else { return }
    peers[session.name]?.session = nil
    session.closed()
    answers.left(ObjectIdentifier(session))
    logger.info("router disconnected", metadata: ["router": "\(session.name)"])
  }

  func report(_ report: RouterReport, from session: RouterSession) {
    guard var peer = peers[session.name], peer.session === session else { return }
    peer.serving(report.epoch)
    if let started = report.startedAt {
      if let before = peer.startedAt, before != started {
        // The router restarted: its new counts start from zero. What its last process
        // counted is kept (not what it had in flight).
        let ended = peer.traffic.map { traffic in
          var traffic = traffic
          traffic.inFlight = 0
          return traffic
        }
        peer.carried = SetTraffic.merged(peer.carried + ended)
      }
      peer.startedAt = started
    }
    peer.traffic = report.traffic
    peer.lastReport = now()
    peers[session.name] = peer
    if report.epoch > highestSeen { highestSeen = report.epoch }
    if report.epoch > table.epoch && table.epoch > 0 {
      // The router kept a newer table than ours (our clock went back): outrank it.
      publish(table.apps, force: true)
    }
  }

  /// A router answered request `id` (route_ack or drained) and its connection's tap did not
  /// take the answer.
  nonisolated func answered(_ id: String, _ message: ClusterMessage, from session: RouterSession) {
    if answers.answered(id, message, from: ObjectIdentifier(session)) { return }
    // Nobody waits for an install's ack; it still tells which table the router serves. (Not
    // a prepare's ack come too late: that table was aborted.)
    if id.hasPrefix(Self.installPrefix), case .routeAck(let ack) = message, ack.ok {
      Task { await self.installed(ack.epoch, by: session) }
    }
  }

  /// `schedctl routers` shows the installed epoch at once, not at the router's next report.
  private func installed(_ epoch: Int64, by session: RouterSession) {
    guard peers[session.name]?.session === session else { return }
    peers[session.name]?.serving(epoch)
  }

  // MARK: views

  /// Connected routers with a preview listener: name and `HOST:PORT`.
  var previews: [(router: String, address: String)] {
    peers.sorted { $0.key < $1.key }.compactMap { name, peer in
      peer.session?.preview.map { (name, $0) }
    }
  }

  /// Connected routers by name.
  var connectedNames: [String] {
    peers.filter { $0.value.session != nil }.keys.sorted()
  }

  func views() -> [RouterView] {
    let at = now()
    return peers.sorted { $0.key < $1.key }.map { name, peer in
      RouterView(
        name: name, connected: peer.session != nil, peer: peer.session?.peer,
        epoch: peer.epoch, inSync: peer.session != nil && peer.epoch == table.epoch,
        reportAgeMillis: peer.lastReport.map { Int64(at.timeIntervalSince($0) * 1000) })
    }
  }

  /// Traffic of every app, summed over every router that has reported, with what routers
  /// counted before they restarted.
  var allTraffic: [SetTraffic] {
    SetTraffic.merged(peers.values.flatMap { $0.carried + $0.traffic })
  }

  /// Each router's traffic (with what its earlier processes counted), by router name.
  var trafficByRouter: [String: [SetTraffic]] {
    peers.mapValues { SetTraffic.merged($0.carried + $0.traffic) }
  }

  /// Traffic of one app, summed the same way.
  func traffic(app: String) -> [SetTraffic] {
    SetTraffic.merged(
      peers.values.flatMap { ($0.carried + $0.traffic).filter { $0.app == app } })
  }

  // MARK: publishing

  private func nextEpoch() -> Int64 {
    let millis = Int64(now().timeIntervalSince1970 * 1000)
    return max(table.epoch + 1, millis, highestSeen + 1)
  }

  /// Switch rounds ended so far, committed or aborted. A table built from state read before
  /// the last one ended is refused by `publish`, so a slow refresh can neither put the old
  /// color back nor serve the record of a switch that was aborted.
  private(set) var switches = 0

  /// Serves `apps` on every router at once when they differ from what is served (a slot became
  /// healthy or left, a set was deployed or stopped). Held back while a switch is in progress;
  /// the switch's caller publishes again after it.
  @discardableResult
  func publish(_ apps: [AppRoutes], builtAfter switchesSeen: Int? = nil, force: Bool = false)
    -> Bool
  {
    guard !switching else { return false }
    if let switchesSeen, switchesSeen != switches { return false }
    let sorted = RouteTable(epoch: 0, apps: apps).apps
    guard force || sorted != table.apps || table.epoch == 0 else { return false }
    table = RouteTable(epoch: nextEpoch(), apps: sorted)
    logger.debug("route table published", metadata: ["epoch": "\(table.epoch)"])
    for peer in peers.values {
      guard let session = peer.session else { continue }
      session.send(
        Frame(id: nextID(Self.installPrefix), .routes(Routes(phase: .install, table: table))))
    }
    return true
  }

  /// The scheduler's own record of a switch, started as its round starts.
  struct SwitchRecord: Sendable {
    /// The record is committed in the store: the routers may commit.
    var committed: Task<Void, any Error>
    /// The record is on disk: the operator may be told.
    var durable: PendingWrite
  }

  /// What a switch round ended with.
  struct SwitchOutcome: Sendable {
    var epoch: Int64
    var routers: [String]
    var prepareMillis: Double
    var commitMillis: Double
    /// Routers that did not ack the commit in time; they were sent the table to install.
    var lagging: [String]
    /// The switch's record reaching the disk, which may still be under way.
    var durable: PendingWrite
  }

  /// Two-phase switch to `apps`: prepare on every connected router while `record` (the
  /// scheduler's own write of the switch, started once the prepares are written) runs
  /// alongside, and only when every router acked and the record is committed, commit
  /// everywhere. Any refusal, loss or timeout aborts on every router and throws the reason; the
  /// old table stays served, and `undo` (told whether the record may have landed) puts the
  /// scheduler's state back and logs the abort before any other table can be published. Every
  /// failure calls `undo` once. The record's sync to disk is not waited for here: the outcome
  /// carries it, and the caller answers the operator once it is done. A crash of the process
  /// between the record and the commit leaves the switch recorded, and the routers get it from
  /// the table published after the restart.
  func switchTables(
    to apps: [AppRoutes], timeout: Duration,
    record: @escaping @Sendable (Int64) -> SwitchRecord,
    undo: @escaping @Sendable (_ reason: String, _ recorded: Bool) async -> Void
  ) async throws(APIFailure) -> SwitchOutcome {
    guard !switching else {
      let reason = "another switch is in progress; try again in a moment"
      await undo(reason, false)
      throw APIFailure(.conflict, reason)
    }
    switching = true
    defer { switching = false }
    let clock = ContinuousClock()
    let started = clock.now
    let epoch = nextEpoch()
    let next = RouteTable(epoch: epoch, apps: apps)
    let sessions = peers.values.compactMap(\.session)
    var round = SwitchRound(epoch: epoch, routers: Set(sessions.map(\.name)))
    if case .abort(let reason) = round.decision {
      await undo(reason, false)
      throw APIFailure(.unavailable, reason)
    }

    // The record starts right after the prepares are written, before the first ack can be
    // read: its commit (no sync) is far shorter than the routers' round trip, and starting it
    // first would hand the prepares' thread to the store's writer on a busy host.
    let prepares = post(sessions) { Frame(id: $0, .routes(Routes(phase: .prepare, table: next))) }
    let recording = record(epoch)
    let results = await answers.wait(prepares, timeout: timeout)
    for (name, result) in results {
      switch result {
      case .success(.routeAck(let ack)) where ack.ok:
        _ = round.ack(from: name, epoch: ack.epoch)
      case .success(.routeAck(let ack)):
        _ = round.refused(by: name, reason: ack.message ?? "no reason given")
      case .success:
        _ = round.refused(by: name, reason: "unexpected answer")
      case .failure(.left):
        _ = round.left(name)
      case .failure(.timedOut):
        break
      }
    }
    if round.decision == .waiting { _ = round.timedOut() }
    let prepared = clock.now
    guard round.decision == .commit else {
      let reason: String
      if case .abort(let why) = round.decision { reason = why } else { reason = "not committed" }
      abortAll(sessions, epoch: epoch, reason: reason)
      // Undone while publishing is still held, and counted as a round: no table built from
      // state read while the record was there can be served.
      _ = await recording.committed.result
      await undo(reason, true)
      switches += 1
      throw APIFailure(
        .unavailable, "switch aborted, nothing changed: \(reason)")
    }
    do {
      try await recording.committed.value
    } catch {
      abortAll(sessions, epoch: epoch, reason: "the scheduler could not record the switch")
      await undo("cannot record it: \(error)", true)
      switches += 1
      throw APIFailure(
        .internalError, "switch aborted, nothing changed: cannot record it: \(error)")
    }
    table = next
    switches += 1
    let commits = await requestAll(
      sessions, timeout: timeout, frame: { Frame(id: $0, .commit(Commit(epoch: epoch))) })
    var lagging: [String] = []
    for (name, result) in commits {
      if case .success(.routeAck(let ack)) = result, ack.ok {
        peers[name]?.serving(epoch)
        continue
      }
      lagging.append(name)
      if let session = peers[name]?.session {
        session.send(
          Frame(id: nextID(Self.installPrefix), .routes(Routes(phase: .install, table: next))))
      }
    }
    let done = clock.now
    return SwitchOutcome(
      epoch: epoch, routers: round.routers.sorted(),
      prepareMillis: Self.millis(prepared - started), commitMillis: Self.millis(done - prepared),
      lagging: lagging.sorted(), durable: recording.durable)
  }

  /// Asks every connected router to wait for its requests to `app`'s `color` set to finish.
  /// Returns the requests still in flight per router when the timeout passed (empty: drained).
  func drain(app: String, color: Color, timeout: Duration) async -> [String: Int64] {
    let sessions = peers.values.compactMap(\.session)
    let millis = Int64(Self.millis(timeout))
    let results = await requestAll(
      sessions, timeout: timeout + .seconds(2),
      frame: { Frame(id: $0, .drain(Drain(app: app, color: color, timeoutMillis: millis))) })
    var left: [String: Int64] = [:]
    for (name, result) in results {
      switch result {
      case .success(.drained(let drained)) where drained.inFlight > 0: left[name] = drained.inFlight
      case .success: break
      case .failure(.left): break
      case .failure(.timedOut): left[name] = -1
      }
    }
    return left
  }

  // MARK: plumbing

  /// Sends `frame` to every session and waits for each answer; a router that left or did not
  /// answer within `timeout` is reported as such.
  private func requestAll(
    _ sessions: [RouterSession], timeout: Duration, frame: (String) -> Frame
  ) async -> RouterAnswers.Results {
    await answers.wait(post(sessions, frame: frame), timeout: timeout)
  }

  /// Registers a round of answers to wait for, then writes `frame` to every session still
  /// connected (a session replaced meanwhile counts as left).
  private func post(_ sessions: [RouterSession], frame: (String) -> Frame) -> RouterAnswers.Round {
    var requests: [RouterAnswers.Request] = []
    var outgoing: [(RouterSession, Frame)] = []
    var gone: [String] = []
    for session in sessions {
      guard peers[session.name]?.session === session else {
        gone.append(session.name)
        continue
      }
      let id = nextID("q")
      requests.append(.init(id: id, router: session.name, session: ObjectIdentifier(session)))
      outgoing.append((session, frame(id)))
    }
    let round = answers.expect(requests, gone: gone)
    for (session, frame) in outgoing { session.send(frame) }
    return round
  }

  private func abortAll(_ sessions: [RouterSession], epoch: Int64, reason: String) {
    for session in sessions {
      session.send(Frame(id: nextID("a"), .abort(Abort(epoch: epoch, reason: reason))))
    }
  }

  /// The id prefix of install frames, whose acks nobody waits for.
  static let installPrefix = "i"

  private func nextID(_ prefix: String) -> String {
    counter += 1
    return "\(prefix)\(counter)"
  }

  static func millis(_ duration: Duration) -> Double {
    let (seconds, atto) = duration.components
    return Double(seconds) * 1000 + Double(atto) / 1e15
  }
}
