import Foundation
import Logging
import OperatorAPI
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

  private let logger: Logger
  private let now: @Sendable () -> Date
  private var peers: [String: Peer] = [:]
  /// Requests waiting for a router's answer. Shared with each router connection's
  /// `RouterAnswerTap`, which settles answers on the event loop that reads them.
  nonisolated let answers = RouterAnswers()
  private var counter = 0
  /// The newest epoch any router reported; a newer one is handed to `onNewerEpoch`.
  private var highestSeen: Int64 = 0
  private var onNewerEpoch: (@Sendable (Int64) async -> Void)?
  /// The table every router should serve; epoch 0 until the first publish.
  public private(set) var table: RouteTable = .empty
  /// The HTTPS certificates every router should serve; nil until the scheduler loaded them.
  private(set) var certificates: EdgeCertificates?
  /// The ACME challenges under way, token → key authorization: every router answers them.
  private(set) var challenges: [String: String] = [:]

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
    if session.servesHTTPS, let certificates,
      !certificates.certificates.isEmpty || certificates.version > 0
    {
      session.send(Frame(.certificates(certificates)))
    }
    if !challenges.isEmpty {
      session.send(Frame(id: nextID("k"), .acmeChallenges(ACMEChallenges(tokens: challenges))))
    }
  }

  /// Hands every connected router the challenges under way with `token` added (or removed,
  /// `keyAuthorization` nil) and waits for each to confirm it holds them. Returns the routers
  /// that did not, with why (left, no answer within `timeout`).
  func challenge(_ token: String, _ keyAuthorization: String?, timeout: Duration) async
    -> [String: String]
  {
    challenges[token] = keyAuthorization
    let set = ACMEChallenges(tokens: challenges)
    let results = await requestAll(
      peers.values.compactMap(\.session), timeout: timeout,
      frame: { Frame(id: $0, .acmeChallenges(set)) })
    var missing: [String: String] = [:]
    for (name, result) in results {
      switch result {
      case .success(.challengesHeld): break
      case .success: missing[name] = "answered something else"
      case .failure(.left): missing[name] = "left"
      case .failure(.timedOut): missing[name] = "did not confirm within \(timeout)"
      }
    }
    return missing
  }

  /// Hands `set` to every connected router with an HTTPS listener (and every one that
  /// connects later); the others never hold the keys.
  func publish(_ set: EdgeCertificates) {
    certificates = set
    for peer in peers.values where peer.session?.servesHTTPS == true {
      peer.session?.send(Frame(.certificates(set)))
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
    if report.epoch > highestSeen {
      highestSeen = report.epoch
      if let onNewerEpoch {
        let epoch = report.epoch
        Task { await onNewerEpoch(epoch) }
      }
    }
  }

  /// Who hears of a router serving an epoch newer than any seen (the lifecycle's owner: a
  /// router that kept a newer table than ours is outranked).
  func onNewerEpoch(_ handler: @escaping @Sendable (Int64) async -> Void) {
    onNewerEpoch = handler
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

  // MARK: tables

  /// Installs `next` on every connected router; it is also the table routers get when they
  /// connect. Epochs only grow: a table older than the one served is dropped.
  func install(_ next: RouteTable) {
    guard next.epoch > table.epoch else { return }
    table = next
    logger.debug("route table published", metadata: ["epoch": "\(table.epoch)"])
    for peer in peers.values {
      guard let session = peer.session else { continue }
      session.send(
        Frame(id: nextID(Self.installPrefix), .routes(Routes(phase: .install, table: table))))
    }
  }

  /// A switch's round: the table prepared and who was asked.
  struct Round: Sendable {
    var table: RouteTable
    var sessions: [RouterSession]
    var answers: RouterAnswers.Round
    /// Every router asked.
    var routers: Set<String> { Set(sessions.map(\.name)) }
  }

  /// Phase one: writes the prepare of `next` to every connected router.
  func prepare(_ next: RouteTable) -> Round {
    let sessions = peers.values.compactMap(\.session)
    let answers = post(sessions) { Frame(id: $0, .routes(Routes(phase: .prepare, table: next))) }
    return Round(table: next, sessions: sessions, answers: answers)
  }

  /// The routers' answers to the prepares, as they settle on the event loops that read them;
  /// a router that did not answer within `timeout` is missing from the result.
  nonisolated func prepareAnswers(_ round: Round, timeout: Duration) async -> [String:
    SwitchRound.Answer]
  {
    var out: [String: SwitchRound.Answer] = [:]
    for (name, result) in await answers.wait(round.answers, timeout: timeout) {
      switch result {
      case .success(.routeAck(let ack)) where ack.ok: out[name] = .acked(epoch: ack.epoch)
      case .success(.routeAck(let ack)): out[name] = .refused(ack.message ?? "no reason given")
      case .success: out[name] = .refused("unexpected answer")
      case .failure(.left): out[name] = .left
      case .failure(.timedOut): break
      }
    }
    return out
  }

  /// Calls the round off on every router it asked.
  func abort(_ round: Round, reason: String) {
    for session in round.sessions {
      session.send(
        Frame(id: nextID("a"), .abort(Abort(epoch: round.table.epoch, reason: reason))))
    }
  }

  /// Phase two: the round's table is the one served; every router is told to commit it.
  /// Returns the routers that did not ack the commit in time; they are sent the table to
  /// install.
  func commit(_ round: Round, timeout: Duration) async -> [String] {
    let epoch = round.table.epoch
    if epoch > table.epoch { table = round.table }
    let commits = await requestAll(
      round.sessions, timeout: timeout, frame: { Frame(id: $0, .commit(Commit(epoch: epoch))) })
    var lagging: [String] = []
    for (name, result) in commits {
      if case .success(.routeAck(let ack)) = result, ack.ok {
        peers[name]?.serving(epoch)
        continue
      }
      lagging.append(name)
      if let session = peers[name]?.session {
        session.send(
          Frame(
            id: nextID(Self.installPrefix), .routes(Routes(phase: .install, table: round.table))))
      }
    }
    return lagging.sorted()
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

  /// Has every router with a preview listener run `check` through it; the outcome per router
  /// (by name), or why there is none: it left, or did not answer within `timeout`.
  func previewChecks(_ check: PreviewCheck, timeout: Duration) async -> [(
    router: String, outcome: Result<CheckOutcome, RouterAnswers.Failure>
  )] {
    let sessions = peers.values.compactMap(\.session).filter { $0.preview != nil }
    let results = await requestAll(
      sessions, timeout: timeout, frame: { Frame(id: $0, .previewCheck(check)) })
    return results.map { name, result in
      switch result {
      case .success(.previewChecked(let answer)): (name, .success(answer.outcome))
      case .success: (name, .failure(.timedOut))
      case .failure(let failure): (name, .failure(failure))
      }
    }
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
