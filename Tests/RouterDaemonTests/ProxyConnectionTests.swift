import HTTPFraming
import NIOCore
import RouteTable
import SchedModel
import Testing

@testable import RouterDaemon

/// The proxy connection as a value: each state, each event the network can bring in it, with
/// no channel. Illegal events (bytes from a connection that serves nothing, a connect result
/// for a request that is gone, a timer while routing) are rows like the others.
@Suite("Proxy connection state machine")
struct ProxyConnectionTests {
  static let slotA = Upstream(
    slot: SlotID(app: "web", color: .blue, index: 0), address: "10.0.0.1", port: 8080)
  static let slotB = Upstream(
    slot: SlotID(app: "web", color: .blue, index: 1), address: "10.0.0.2", port: 8080)
  static let set = RouteSet(
    color: .blue, deployment: "d1", image: "web:1", upstreams: [slotA, slotB])
  static let get = "GET / HTTP/1.1\r\nhost: web.test\r\n\r\n"

  /// A machine driven through events the way the handler drives it, and the actions seen.
  struct Driver {
    var machine: ProxyConnection
    let counters = SetCounters(SetTraffic(app: "web", color: .blue))
    /// The connection attached now, and one that serves nothing.
    let link = UpstreamHandler(upstream: slotA)
    let stranger = UpstreamHandler(upstream: slotB)
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)

    init(replayBufferBytes: Int = 64 * 1024) {
      var config = RouterConfig(name: "test", idleTimeout: .seconds(60))
      config.responseTimeout = .seconds(5)
      config.replayBufferBytes = replayBufferBytes
      machine = ProxyConnection(limits: ProxyLimits(config), now: now)
    }

    var state: String { machine.state.description }

    /// Client bytes, then everything they call for until the machine waits.
    mutating func client(_ text: String) -> [String] {
      var seen = [machine.clientRead(ByteBuffer(string: text), now: now)]
      while true {
        let next = machine.nextFromClient()
        if case .wait = next { break }
        seen.append(next)
        if case .pauseClient = next { break }
      }
      return Self.named(seen)
    }

    /// Slot bytes from `from` (the attached link by default), then what they call for.
    mutating func slot(_ text: String, from: UpstreamHandler? = nil) -> [String] {
      var seen = [machine.upstreamRead(ByteBuffer(string: text), from: from ?? link, now: now)]
      while true {
        let next = machine.nextFromUpstream()
        if case .wait = next { break }
        seen.append(next)
      }
      return Self.named(seen)
    }

    static func named(_ actions: [ProxyAction]) -> [String] {
      actions.filter { if case .wait = $0 { false } else { true } }.map(\.description)
    }

    // MARK: reaching each state

    mutating func routing(_ request: String = get) -> MessageHead {
      _ = machine.clientRead(ByteBuffer(string: request), now: now)
      guard case .route(let head) = machine.nextFromClient() else {
        preconditionFailure("no head in \(request)")
      }
      return head
    }

    mutating func choosing(_ request: String = get) -> ProxyAction {
      let head = routing(request)
      let action = machine.begin(
        head, set: set, app: "web", counters: counters, upstreamHead: ByteBuffer(string: "HEAD"),
        now: now)
      // As the handler does: what came after the head in the same read is read on.
      read: while true {
        switch machine.nextFromClient() {
        case .wait, .pauseClient: break read
        default: continue
        }
      }
      return action
    }

    mutating func connecting(_ request: String = get) {
      _ = choosing(request)
      machine.connecting(to: slotA)
    }

    mutating func awaitingHead(_ request: String = get) {
      connecting(request)
      _ = machine.connected(link, exchange: 1, now: now)
    }

    /// A POST's answer has started: an idempotent request's small answer would be held.
    mutating func body() {
      awaitingHead("POST / HTTP/1.1\r\nhost: web.test\r\ncontent-length: 0\r\n\r\n")
      _ = slot("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01")
    }

    /// A GET's answer of 10 bytes, its head and 2 bytes in: held until whole.
    mutating func held() {
      awaitingHead()
      _ = slot("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01")
    }

    mutating func tunnel() {
      awaitingHead(
        "GET /ws HTTP/1.1\r\nhost: web.test\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n")
      _ = slot(
        "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n")
    }

    mutating func closing() {
      _ = client("NOT HTTP\r\n\r\n")
    }
  }

  /// Every event the network can bring, applied to a driver in some state.
  enum Event: CustomStringConvertible {
    case clientBytes(String)
    case slotBytes(String)
    case strangerBytes
    case slotClosed
    case strangerClosed
    case staleConnect
    case staleConnectFailure
    case tick(seconds: Int64)
    case clientClosed

    var description: String {
      switch self {
      case .clientBytes(let text): "client \(text.prefix(12).debugDescription)"
      case .slotBytes(let text): "slot \(text.prefix(12).debugDescription)"
      case .strangerBytes: "bytes from a stranger"
      case .slotClosed: "slot closed"
      case .strangerClosed: "stranger closed"
      case .staleConnect: "stale connect"
      case .staleConnectFailure: "stale connect failure"
      case .tick(let seconds): "tick +\(seconds)s"
      case .clientClosed: "client closed"
      }
    }

    func apply(_ driver: inout Driver) -> [String] {
      switch self {
      case .clientBytes(let text):
        return driver.client(text)
      case .slotBytes(let text):
        return driver.slot(text)
      case .strangerBytes:
        return driver.slot("HTTP/1.1 200 OK\r\n\r\n", from: driver.stranger)
      case .slotClosed:
        return Driver.named([driver.machine.upstreamClosed(driver.link)])
      case .strangerClosed:
        return Driver.named([driver.machine.upstreamClosed(driver.stranger)])
      case .staleConnect:
        return Driver.named([
          driver.machine.connected(driver.stranger, exchange: 99, now: driver.now)
        ])
      case .staleConnectFailure:
        return Driver.named([driver.machine.connectFailed(slotB, exchange: 99)])
      case .tick(let seconds):
        return Driver.named([driver.machine.tick(now: driver.now + .seconds(seconds))])
      case .clientClosed:
        return Driver.named([driver.machine.clientClosed()])
      }
    }
  }

  /// What the network may bring in any state, and where each leads. The same illegal events
  /// (a stranger's bytes or close, a stale connect) appear under every state.
  static let everyState: [(String, Event, [String], String)] = [
    ("idle", .clientBytes(get), ["route"], "routing"),
    ("idle", .clientBytes("NOT HTTP\r\n\r\n"), ["answer(400, close: true, failed: -)"], "closing"),
    ("idle", .clientBytes("GET / HTTP/1.1\r\nhost: we"), [], "idle"),
    ("idle", .strangerBytes, ["closeUpstream"], "idle"),
    ("idle", .strangerClosed, [], "idle"),
    ("idle", .staleConnect, ["pool"], "idle"),
    ("idle", .staleConnectFailure, [], "idle"),
    ("idle", .tick(seconds: 59), [], "idle"),
    ("idle", .tick(seconds: 60), ["cut(link: false, no exchange)"], "closing"),
    ("idle", .clientClosed, [], "closing"),

    ("routing", .clientBytes(get), [], "routing"),
    ("routing", .strangerBytes, ["closeUpstream"], "routing"),
    ("routing", .staleConnect, ["pool"], "routing"),
    ("routing", .tick(seconds: 600), [], "routing"),
    ("routing", .clientClosed, [], "closing"),

    ("choosing", .clientBytes(get), [], "proxying(choosing)"),
    ("choosing", .strangerBytes, ["closeUpstream"], "proxying(choosing)"),
    ("choosing", .strangerClosed, [], "proxying(choosing)"),
    ("choosing", .staleConnect, ["pool"], "proxying(choosing)"),
    ("choosing", .staleConnectFailure, [], "proxying(choosing)"),
    ("choosing", .tick(seconds: 600), [], "proxying(choosing)"),
    ("choosing", .clientClosed, ["cut(link: false, -)"], "closing"),

    ("connecting", .clientBytes(get), [], "proxying(connecting)"),
    ("connecting", .strangerBytes, ["closeUpstream"], "proxying(connecting)"),
    ("connecting", .staleConnect, ["pool"], "proxying(connecting)"),
    ("connecting", .staleConnectFailure, [], "proxying(connecting)"),
    ("connecting", .tick(seconds: 600), [], "proxying(connecting)"),
    ("connecting", .clientClosed, ["cut(link: false, -)"], "closing"),

    (
      "awaitingHead", .slotBytes("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
      ["respond(200)", "toClient(2)", "finished(pool: true, close: false, success)"], "idle"
    ),
    ("awaitingHead", .slotBytes("HTTP/1.1 200 OK\r\ncont"), [], "proxying(awaitingHead)"),
    (
      "awaitingHead", .slotBytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
      ["respond(204)", "finished(pool: true, close: false, success)"], "idle"
    ),
    (
      "awaitingHead", .slotBytes("HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n"),
      ["answer(502, close: false, failed: web/blue/0)"], "idle"
    ),
    (
      "awaitingHead", .slotBytes("HTTP/1.1 2x0 OK\r\n\r\n"),
      ["answer(502, close: false, failed: web/blue/0)"], "idle"
    ),
    ("awaitingHead", .strangerBytes, ["closeUpstream"], "proxying(awaitingHead)"),
    ("awaitingHead", .strangerClosed, [], "proxying(awaitingHead)"),
    (
      "awaitingHead", .slotClosed, ["dispatch(reuse: false, continue: false, failed: web/blue/0)"],
      "proxying(choosing)"
    ),
    ("awaitingHead", .staleConnect, ["pool"], "proxying(awaitingHead)"),
    ("awaitingHead", .tick(seconds: 4), [], "proxying(awaitingHead)"),
    (
      "awaitingHead", .tick(seconds: 5), ["answer(504, close: false, failed: web/blue/0)"], "idle"
    ),
    ("awaitingHead", .clientClosed, ["cut(link: true, -)"], "closing"),
    (
      "awaitingHead", .slotBytes("HTTP/1.1 200 OK\r\ncontent-length: 65537\r\n\r\n01"),
      ["respond(200)", "toClient(2)"], "proxying(body)"
    ),

    ("held", .slotBytes("234"), [], "proxying(awaitingHead)"),
    (
      "held", .slotBytes("23456789"),
      ["respond(200)", "toClient(10)", "finished(pool: true, close: false, success)"], "idle"
    ),
    ("held", .strangerBytes, ["closeUpstream"], "proxying(awaitingHead)"),
    (
      "held", .slotClosed, ["dispatch(reuse: false, continue: false, failed: web/blue/0)"],
      "proxying(choosing)"
    ),
    ("held", .tick(seconds: 4), [], "proxying(awaitingHead)"),
    // Let out: the head and what came go on with the next bytes (the handler drains at once).
    ("held", .tick(seconds: 5), [], "proxying(awaitingHead)"),
    ("held", .clientClosed, ["cut(link: true, -)"], "closing"),

    (
      "body", .slotBytes("23456789"),
      ["toClient(8)", "finished(pool: true, close: false, success)"],
      "idle"
    ),
    (
      "body", .slotBytes("23456789EXTRA"),
      ["toClient(8)", "finished(pool: false, close: false, success)"], "idle"
    ),
    ("body", .slotBytes("234"), ["toClient(3)"], "proxying(body)"),
    ("body", .strangerBytes, ["closeUpstream"], "proxying(body)"),
    ("body", .slotClosed, ["cut(link: false, proxyError)"], "closing"),
    ("body", .tick(seconds: 600), [], "proxying(body)"),
    ("body", .clientClosed, ["cut(link: true, -)"], "closing"),

    ("tunnel", .clientBytes("ping"), ["toUpstream(4, flush: false)"], "tunnel"),
    ("tunnel", .slotBytes("pong!"), ["toClient(5)"], "tunnel"),
    ("tunnel", .strangerBytes, ["closeUpstream"], "tunnel"),
    ("tunnel", .strangerClosed, [], "tunnel"),
    ("tunnel", .slotClosed, ["finished(pool: false, close: true, -)"], "closing"),
    ("tunnel", .staleConnect, ["pool"], "tunnel"),
    ("tunnel", .tick(seconds: 59), [], "tunnel"),
    ("tunnel", .tick(seconds: 60), ["cut(link: true, -)"], "closing"),
    ("tunnel", .clientClosed, ["cut(link: true, -)"], "closing"),

    ("closing", .clientBytes(get), [], "closing"),
    ("closing", .strangerBytes, ["closeUpstream"], "closing"),
    ("closing", .strangerClosed, [], "closing"),
    ("closing", .staleConnect, ["pool"], "closing"),
    ("closing", .staleConnectFailure, [], "closing"),
    ("closing", .tick(seconds: 60), ["cut(link: false, no exchange)"], "closing"),
    ("closing", .clientClosed, [], "closing"),
  ]

  @Test("each state answers every event the network can bring", arguments: everyState)
  func everyStateEveryEvent(
    _ start: String, _ event: Event, _ actions: [String], _ state: String
  ) {
    var driver = Driver()
    switch start {
    case "routing": _ = driver.routing()
    case "choosing": _ = driver.choosing()
    case "connecting": driver.connecting()
    case "awaitingHead": driver.awaitingHead()
    case "body": driver.body()
    case "held": driver.held()
    case "tunnel": driver.tunnel()
    case "closing": driver.closing()
    default: break
    }
    #expect(event.apply(&driver) == actions, "\(start) + \(event)")
    #expect(driver.state == state, "\(start) + \(event)")
  }
}
