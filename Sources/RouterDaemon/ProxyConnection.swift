import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable

/// One client connection of the proxy as a value: what it is doing, and what each event calls
/// for. Events come in (client bytes, a route, a connection to a slot attached or lost, slot
/// bytes, a timer tick, the client leaving); each returns a `ProxyAction` that `ProxyHandler`
/// carries out. Nothing here does I/O: upstream connections are held only to say which one an
/// event or an action is about, and the time comes in with the events that need it. The
/// request under way is an `Exchange`, a class this value alone holds and changes in place (a
/// copy of it per event cost the router a tenth of its throughput).
///
/// ```
///            head read            begin               response ends (keep-alive)
///   idle ───────────────▶ routing ──────▶ proxying ─────────────────────────────▶ idle
///    ▲                       │ refuse        │ 101 from the slot
///    └───── (keep-alive) ────┘               ▼
///                                          tunnel ──── either side closes ───▶ closing
///   any state ── a closing answer, a broken framing, the client leaving ───▶ closing
/// ```
struct ProxyConnection {
  enum State {
    /// Between requests: the next head is awaited (part of it may be in `inbound`).
    case idle
    /// A head was handed out to be routed; `begin` or `refuse` follows before anything else.
    case routing
    /// A request is on its way to a slot, and its answer back.
    case proxying(Exchange)
    /// The slot switched protocols: bytes pass both ways untouched until either side closes.
    case tunnel(Tunnel)
    /// The connection is ending (an answer that closes it is going out, or the client left):
    /// nothing more is read or forwarded.
    case closing
  }

  // Set only by the methods here and in `+Upstream`; the handler reads it.
  var state = State.idle
  /// Client bytes not handled yet: a partial head, body bytes, or requests pipelined behind
  /// the one being answered.
  var inbound = ByteBuffer()
  /// The last client read, finished answer or tunnel traffic, for the idle timeout.
  var lastActivity: NIODeadline
  private var exchanges = 0
  let limits: ProxyLimits
  /// The router is going away: every answer closes the connection after it, and a connection
  /// idle for `drainIdleGrace` is closed (never one with a request under way).
  private(set) var draining = false

  init(limits: ProxyLimits, now: NIODeadline) {
    self.limits = limits
    self.lastActivity = now
  }

  /// The connection to a slot that the client's traffic goes to now, if any.
  var link: UpstreamHandler? {
    switch state {
    case .proxying(let exchange): exchange.link
    case .tunnel(let tunnel): tunnel.link
    case .idle, .routing, .closing: nil
    }
  }

  // MARK: the client's side

  /// Bytes from the client. In a tunnel they go straight to the slot; otherwise they are
  /// kept, and `nextFromClient` says what they call for.
  mutating func clientRead(_ bytes: ByteBuffer, now: NIODeadline) -> ProxyAction {
    lastActivity = now
    switch state {
    case .closing:
      return .wait
    case .tunnel(let tunnel):
      return .toUpstream(bytes, tunnel.link, flush: false)
    case .idle, .routing, .proxying:
      if inbound.readableBytes == 0 {
        inbound = bytes
      } else {
        var bytes = bytes
        inbound.writeBuffer(&bytes)
      }
      return .wait
    }
  }

  /// The next thing the client's bytes call for; `.wait` when nothing until another event.
  mutating func nextFromClient() -> ProxyAction {
    switch state {
    case .idle:
      return readHead()
    case .proxying(let exchange):
      guard case .reading(var framer) = exchange.requestBody else {
        // A pipelined request waits until the one before it is answered.
        return inbound.readableBytes > limits.maxHeaderBytes ? .pauseClient : .wait
      }
      guard inbound.readableBytes > 0 else { return .wait }
      let consumed: Int
      do {
        consumed = try inbound.withReadableBytes { bytes throws(HeadError) in
          try framer.consume(bytes)
        }
      } catch {
        // The framing is broken: nothing after this point can be trusted to be a request,
        // and the slot's connection is in an unknown state.
        state = .closing
        return .cut(Cut(link: exchange.link, ending: exchange.ending(nil)))
      }
      let part = inbound.readSlice(length: consumed)!
      releaseInbound()
      let ended = framer.isDone
      exchange.requestBody = ended ? .ended : .reading(framer)
      if let link = exchange.link {
        exchange.copy.forwarded(part, limit: limits.replayBufferBytes)
        return .toUpstream(part, link, flush: ended)
      }
      let tooMuch = exchange.copy.held(part, limit: limits.replayBufferBytes)
      return tooMuch ? .pauseClient : nextFromClient()
    case .routing, .tunnel, .closing:
      return .wait
    }
  }

  private mutating func readHead() -> ProxyAction {
    guard inbound.readableBytes > 0 else { return .wait }
    let blank = HeadParser.leadingEmptyLines(in: inbound)
    if blank > 0 { inbound.moveReaderIndex(forwardBy: blank) }
    guard let length = HeadParser.headLength(in: inbound) else {
      let size = inbound.readableBytes
      return size > limits.maxHeaderBytes ? headTooLarge(size) : .wait
    }
    guard length <= limits.maxHeaderBytes else { return headTooLarge(length) }
    do {
      let head = try HeadParser.request(
        inbound.readSlice(length: length)!, previewHeader: limits.previewHeader)
      releaseInbound()
      state = .routing
      return .route(head)
    } catch {
      state = .closing
      return .answer(
        Answer(
          status: .badRequest, message: "bad request: \(error)", close: true, includeBody: true))
    }
  }

  /// Lets go of the buffer the client's bytes were read into once they are all taken: the
  /// channel (or TLS, which decrypts into one buffer it keeps) reuses that storage for the
  /// next read only while nothing else holds it, and otherwise copies or allocates it again.
  private mutating func releaseInbound() {
    if inbound.readableBytes == 0 { inbound = ByteBuffer() }
  }

  private mutating func headTooLarge(_ size: Int) -> ProxyAction {
    state = .closing
    return .answer(
      Answer(
        status: .requestHeaderFieldsTooLarge,
        message:
          "request head is \(size) bytes or more; this router accepts up to \(limits.maxHeaderBytes)",
        close: true, includeBody: true))
  }

  /// The head `.route` handed out goes to a slot of `set`.
  mutating func begin(
    _ head: MessageHead, set: RouteSet, app: String, counters: SetCounters,
    upstreamHead: ByteBuffer, now: NIODeadline
  ) -> ProxyAction {
    guard case .routing = state else { preconditionFailure("begin without a routed head") }
    exchanges &+= 1
    let framer = BodyFramer(head.framing)
    let exchange = Exchange(
      id: exchanges,
      request: Exchange.Request(
        app: app, set: set, head: upstreamHead, method: head.method,
        clientMinorVersion: head.minorVersion, keepAlive: head.keepAlive,
        upgrade: head.upgrade != nil, counters: counters, start: now),
      requestBody: framer.isDone ? .ended : .reading(framer))
    state = .proxying(exchange)
    // The router answers `Expect: 100-continue` itself: the body is what it needs to pick and
    // reach a slot, and a slot's own interim answer cannot be told from a replayed request's.
    return .dispatch(exchange.plan(sendContinue: head.expectsContinue, failed: nil))
  }

  /// The head `.route` handed out is answered by the router. One with a body closes the
  /// connection after the answer: a client waiting on `Expect` may never send that body.
  mutating func refuse(
    _ head: MessageHead, _ status: HTTPResponseStatus, _ message: String, location: String? = nil,
    exact: Bool = false
  ) -> ProxyAction {
    guard case .routing = state else { preconditionFailure("refuse without a routed head") }
    let close = draining || head.framing != .none || !head.keepAlive || head.minorVersion == 0
    state = close ? .closing : .idle
    return .answer(
      Answer(
        status: status, message: message, close: close, includeBody: head.method != .head,
        location: location, exact: exact))
  }

  /// The router drains: the answer under way (or the next request's) closes the connection,
  /// and a connection idle past the grace closes now. A request that is arriving is answered
  /// first.
  mutating func drain(now: NIODeadline) -> ProxyAction {
    draining = true
    return closeIfDrainedIdle(now: now)
  }

  private mutating func closeIfDrainedIdle(now: NIODeadline) -> ProxyAction {
    guard draining, case .idle = state, inbound.readableBytes == 0,
      now - lastActivity >= limits.drainIdleGrace
    else { return .wait }
    state = .closing
    return .cut(Cut())
  }

  /// The client's connection closed: whatever is open to a slot closes with it.
  mutating func clientClosed() -> ProxyAction {
    let open = state
    state = .closing
    switch open {
    case .proxying(let exchange):
      return .cut(Cut(link: exchange.link, ending: exchange.ending(nil)))
    case .tunnel(let tunnel): return .cut(Cut(link: tunnel.link, ending: tunnel.ending))
    case .idle, .routing, .closing: return .wait
    }
  }

  /// Runs every second or so: closes a connection idle past the idle timeout (between
  /// requests, in a tunnel, or closing and stuck), and answers 504 for a slot that has not
  /// started its answer within the response timeout.
  mutating func tick(now: NIODeadline) -> ProxyAction {
    if case .idle = state, draining, inbound.readableBytes == 0 {
      return closeIfDrainedIdle(now: now)
    }
    switch state {
    case .idle, .tunnel, .closing:
      guard now - lastActivity >= limits.idleTimeout else { return .wait }
      var cut = Cut()
      if case .tunnel(let tunnel) = state { cut = Cut(link: tunnel.link, ending: tunnel.ending) }
      state = .closing
      return .cut(cut)
    case .proxying(let exchange):
      guard case .attached(let link, let since, _) = exchange.leg,
        case .awaitingHead = exchange.response, now - since >= limits.responseTimeout
      else { return .wait }
      if !exchange.holdReleased, HeadParser.headLength(in: exchange.upstreamInbound) != nil {
        // The head came in time and is held for its body: it goes out now, the body as it
        // comes (`nextFromUpstream`).
        exchange.holdReleased = true
        return .wait
      }
      return fail(
        exchange, .gatewayTimeout,
        "slot \(link.upstream.slot) did not answer within \(limits.responseTimeout.nanoseconds / 1_000_000) ms",
        failed: link.upstream, closing: link)
    case .routing:
      return .wait
    }
  }

  /// The router answers for the exchange: counted as a proxy
  /// error; the connection stays only if the client's request was whole and it asked to.
  mutating func fail(
    _ exchange: Exchange, _ status: HTTPResponseStatus, _ message: String, failed: Upstream?,
    closing link: UpstreamHandler?
  ) -> ProxyAction {
    let request = exchange.request
    let close =
      draining || !request.keepAlive || !exchange.requestEnded || request.clientMinorVersion == 0
    state = close ? .closing : .idle
    return .answer(
      Answer(
        status: status, message: message, close: close, includeBody: request.method != .head,
        ending: exchange.ending(.proxyError), failed: failed, closeLink: link))
  }
}

/// The limits a proxy connection works within, from the router's configuration.
struct ProxyLimits: Sendable {
  var maxHeaderBytes: Int
  var maxResponseHeadBytes = 64 * 1024
  /// Answers with bodies up to this size to requests that could be sent again wait whole
  /// before they go out (`ProxyConnection.holds`).
  var holdAnswerBytes = 64 * 1024
  var replayBufferBytes: Int
  var idleTimeout: TimeAmount
  var responseTimeout: TimeAmount
  /// While draining, how long a connection may sit idle before it is closed: a keep-alive
  /// client sending its next request within it gets the answer, with `Connection: close`.
  var drainIdleGrace: TimeAmount = .milliseconds(500)
  var previewHeader: String?
  var stampResponses: Bool

  init(_ config: RouterConfig) {
    maxHeaderBytes = config.maxHeaderBytes
    replayBufferBytes = config.replayBufferBytes
    idleTimeout = config.idleTimeout
    responseTimeout = config.responseTimeout
    previewHeader = config.previewHeader
    stampResponses = config.stampResponses
  }
}

extension ProxyConnection.State: CustomStringConvertible {
  /// The state and, while proxying, where the exchange stands: for tests and logs.
  var description: String {
    switch self {
    case .idle: "idle"
    case .routing: "routing"
    case .proxying(let exchange):
      switch (exchange.leg, exchange.response) {
      case (.choosing, _): "proxying(choosing)"
      case (.connecting, _): "proxying(connecting)"
      case (.attached, .awaitingHead): "proxying(awaitingHead)"
      case (.attached, .body): "proxying(body)"
      }
    case .tunnel: "tunnel"
    case .closing: "closing"
    }
  }
}
