import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable

/// The slot's side: reaching a slot (pooled or new, the retries), its answer, its tunnel, and a
/// slot that breaks or closes.
extension ProxyConnection {
  // MARK: reaching a slot

  /// The balancer has no slot left to try.
  mutating func noSlot() -> ProxyAction {
    guard case .proxying(let exchange) = state, case .choosing = exchange.leg else { return .wait }
    return fail(
      exchange, .badGateway,
      "no slot of the \(exchange.request.set.color.rawValue) set of \(exchange.request.app) could be reached",
      failed: nil, closing: nil)
  }

  /// A pooled connection was taken for the request.
  mutating func attach(_ link: UpstreamHandler, now: NIODeadline) -> ProxyAction {
    guard case .proxying(let exchange) = state, case .choosing = exchange.leg else {
      return .pool(link)
    }
    return attach(exchange, link, reused: true, now: now)
  }

  /// A new connection to `upstream` is being opened for the request.
  mutating func connecting(to upstream: Upstream) {
    guard case .proxying(let exchange) = state, case .choosing = exchange.leg else { return }
    exchange.tried.insert(upstream)
    exchange.leg = .connecting(upstream)
  }

  /// A connection opened for exchange `id`. One that exchange no longer waits for (it ended,
  /// or the client left) goes to the pool.
  mutating func connected(_ link: UpstreamHandler, exchange id: Int, now: NIODeadline)
    -> ProxyAction
  {
    guard case .proxying(let exchange) = state, exchange.id == id,
      case .connecting(let target) = exchange.leg, target == link.upstream
    else { return .pool(link) }
    return attach(exchange, link, reused: false, now: now)
  }

  private mutating func attach(
    _ exchange: Exchange, _ link: UpstreamHandler, reused: Bool, now: NIODeadline
  ) -> ProxyAction {
    exchange.leg = .attached(link, since: now, reused: reused)
    exchange.upstreamInbound = ByteBuffer()
    let body = exchange.copy.forAttach()
    return .send(link, head: exchange.request.head, body: body)
  }

  /// The connection to `upstream` for exchange `id` could not be opened: nothing of the
  /// request reached the slot, so it goes to another one (up to `maxConnectRetries`), then 502.
  mutating func connectFailed(_ upstream: Upstream, exchange id: Int) -> ProxyAction {
    guard case .proxying(let exchange) = state, exchange.id == id,
      case .connecting(let target) = exchange.leg, target == upstream
    else { return .wait }
    if exchange.connectRetries < Exchange.maxConnectRetries {
      exchange.connectRetries += 1
      exchange.avoiding.insert(upstream.address)
      return redispatch(exchange, failed: upstream)
    }
    return fail(
      exchange, .badGateway,
      "cannot connect to slot \(upstream.slot) at \(upstream.address):\(upstream.port)",
      failed: upstream, closing: nil)
  }

  private mutating func redispatch(_ exchange: Exchange, failed: Upstream?) -> ProxyAction {
    exchange.leg = .choosing(reuse: false)
    exchange.upstreamInbound = ByteBuffer()
    return .dispatch(exchange.plan(sendContinue: false, failed: failed))
  }

  /// The scheduler withdrew the slot the request waits on (its node is down: a dead host, or
  /// one cut off, may never answer nor close). An idempotent request whose body is kept and
  /// of which nothing was answered yet goes to a slot of the set as it is now, once.
  mutating func withdrawn(_ gone: Set<Upstream>, table: RouteTable) -> ProxyAction {
    guard case .proxying(let exchange) = state, case .attached(let link, _, _) = exchange.leg,
      gone.contains(link.upstream), case .awaitingHead = exchange.response,
      exchange.copy.isReplayable, exchange.request.method.isIdempotent,
      exchange.withdrawals == 0
    else { return .wait }
    exchange.withdrawals += 1
    let color = exchange.request.set.color
    if let app = table.apps.first(where: { $0.app == exchange.request.app }),
      let current = [app.live, app.candidate].compactMap({ $0 }).first(where: { $0.color == color })
    {
      exchange.set = current
    }
    exchange.tried.insert(link.upstream)
    exchange.avoiding.insert(link.upstream.address)
    exchange.leg = .choosing(reuse: false)
    exchange.upstreamInbound = ByteBuffer()
    var plan = exchange.plan(sendContinue: false, failed: nil)
    plan.closing = link
    return .dispatch(plan)
  }

  // MARK: the slot's answer

  /// Bytes from a slot. In a tunnel they go straight to the client; from the slot serving the
  /// request they are kept, and `nextFromUpstream` says what they call for; from any other
  /// connection they are out of step, and it is closed.
  mutating func upstreamRead(_ bytes: ByteBuffer, from link: UpstreamHandler, now: NIODeadline)
    -> ProxyAction
  {
    switch state {
    case .tunnel(let tunnel) where tunnel.link === link:
      lastActivity = now
      return .toClient(bytes, from: link)
    case .proxying(let exchange) where exchange.isAttached(to: link):
      lastActivity = now
      if exchange.upstreamInbound.readableBytes == 0 {
        exchange.upstreamInbound = bytes
      } else {
        var bytes = bytes
        exchange.upstreamInbound.writeBuffer(&bytes)
      }
      return .wait
    case .idle, .routing, .proxying, .tunnel, .closing:
      return .closeUpstream(link)
    }
  }

  /// The next thing the slot's bytes call for; `.wait` when nothing until another event.
  mutating func nextFromUpstream() -> ProxyAction {
    guard case .proxying(let exchange) = state, let link = exchange.link else { return .wait }
    guard case .body(var framer, let plan) = exchange.response else {
      guard exchange.upstreamInbound.readableBytes > 0 else { return .wait }
      return readResponseHead(exchange, link)
    }
    if framer.isDone {
      return finish(exchange, link, plan, leftover: exchange.upstreamInbound.readableBytes)
    }
    guard exchange.upstreamInbound.readableBytes > 0 else { return .wait }
    var data: [Range<Int>] = []
    let consumed: Int
    do {
      consumed = try exchange.upstreamInbound.withReadableBytes { bytes throws(HeadError) in
        plan.dechunk ? try framer.consume(bytes) { data.append($0) } : try framer.consume(bytes)
      }
    } catch {
      return broke(exchange, link, "slot \(link.upstream.slot) broke the body framing: \(error)")
    }
    exchange.response = .body(framer, plan)
    let action: ProxyAction
    if plan.dechunk {
      let base = exchange.upstreamInbound.readerIndex
      let parts = data.map {
        exchange.upstreamInbound.getSlice(at: base + $0.lowerBound, length: $0.count)!
      }
      exchange.upstreamInbound.moveReaderIndex(forwardBy: consumed)
      action = .toClientParts(parts, from: link)
    } else {
      action = .toClient(exchange.upstreamInbound.readSlice(length: consumed)!, from: link)
    }
    return consumed > 0 || framer.isDone ? action : .wait
  }

  /// Reads the response head at the front of the slot's bytes.
  private mutating func readResponseHead(_ exchange: Exchange, _ link: UpstreamHandler)
    -> ProxyAction
  {
    let slot = link.upstream.slot
    while true {
      guard let length = HeadParser.headLength(in: exchange.upstreamInbound) else {
        if exchange.upstreamInbound.readableBytes > limits.maxResponseHeadBytes {
          return broke(
            exchange, link,
            "slot \(slot) sent a response head over \(limits.maxResponseHeadBytes) bytes")
        }
        return .wait
      }
      let head: MessageHead
      do {
        head = try HeadParser.response(
          exchange.upstreamInbound.getSlice(
            at: exchange.upstreamInbound.readerIndex, length: length)!,
          stamping: limits.stampResponses)
      } catch {
        return broke(exchange, link, "slot \(slot) sent a response that cannot be parsed: \(error)")
      }
      let request = exchange.request
      let framing = HeadParser.responseFraming(head, method: request.method)
      if head.status >= 200, holds(exchange, framing, headBytes: length) { return .wait }
      exchange.upstreamInbound.moveReaderIndex(forwardBy: length)
      if head.status == 101 { return openTunnel(exchange, link, head) }
      // An interim answer (100, 103) is not the response.
      if head.status < 200 { continue }
      let dechunk = request.clientMinorVersion == 0 && framing == .chunked
      let close =
        draining || !request.keepAlive || !exchange.requestEnded || framing == .untilClose
        || dechunk
      exchange.response = .body(
        BodyFramer(framing),
        Exchange.ResponsePlan(
          status: head.status, upstreamKeepAlive: head.keepAlive && framing != .untilClose,
          closeClient: close, dechunk: dechunk))
      // The answer started: the request can no longer be replayed, its copy goes.
      exchange.copy = .pending([], bytes: 0)
      return .respond(
        ResponseStart(
          head: head, link: link, set: request.set, counters: request.counters,
          persistence: close ? .close : request.clientMinorVersion == 0 ? .keepAlive : .implicit,
          dechunk: dechunk, framing: framing))
    }
  }

  /// Whether a small answer waits whole before anything of it goes out: one of at most
  /// `holdAnswerBytes` to a request that could be sent again (idempotent, its body kept), until
  /// its body is all in. A slot that dies between its head and its body (a host going down; a
  /// server that writes them apart) then leaves nothing sent: the request is tried on another
  /// slot instead of the client's answer being cut. Ends at the response timeout, after which
  /// the answer goes out as it comes.
  private func holds(_ exchange: Exchange, _ framing: BodyFraming, headBytes: Int) -> Bool {
    guard case .length(let length) = framing, length <= limits.holdAnswerBytes,
      !exchange.holdReleased, exchange.copy.isReplayable, exchange.request.method.isIdempotent
    else { return false }
    return exchange.upstreamInbound.readableBytes - headBytes < length
  }

  /// The slot agreed to switch protocols: its 101 goes to the client, and from here on the
  /// connections are spliced. The request counts as answered now and stays in flight until the
  /// end, so a drain waits for it.
  private mutating func openTunnel(
    _ exchange: Exchange, _ link: UpstreamHandler, _ head: MessageHead
  ) -> ProxyAction {
    guard exchange.request.upgrade, head.upgrade != nil else {
      return broke(
        exchange, link,
        "slot \(link.upstream.slot) switched protocols though the request did not ask to")
    }
    let request = exchange.request
    // What the client sent after its request head already speaks the new protocol.
    let fromClient = inbound
    inbound = ByteBuffer()
    state = .tunnel(Tunnel(link: link, counters: request.counters, start: request.start))
    return .openTunnel(
      OpenTunnel(
        head: head, link: link, set: request.set, fromUpstream: exchange.upstreamInbound,
        fromClient: fromClient, counters: request.counters, start: request.start))
  }

  /// The answer is complete. Bytes after it mean the slot is out
  /// of step: its connection is never reused then.
  private mutating func finish(
    _ exchange: Exchange, _ link: UpstreamHandler, _ plan: Exchange.ResponsePlan, leftover: Int
  ) -> ProxyAction {
    state = plan.closeClient ? .closing : .idle
    return .finished(
      Finish(
        link: link, pool: plan.upstreamKeepAlive && exchange.requestEnded && leftover == 0,
        closeClient: plan.closeClient,
        ending: exchange.ending(StatusClass(status: plan.status))))
  }

  /// The slot said something that cannot be forwarded: it is
  /// closed; the client gets 502 if nothing of the answer went out yet, or sees its connection
  /// closed.
  private mutating func broke(_ exchange: Exchange, _ link: UpstreamHandler, _ message: String)
    -> ProxyAction
  {
    guard case .awaitingHead = exchange.response else {
      state = .closing
      return .cut(
        Cut(
          link: link, failed: link.upstream, ending: exchange.ending(.proxyError),
          why: "\(message); the answer had started, so the client's connection is cut"))
    }
    return fail(exchange, .badGateway, message, failed: link.upstream, closing: link)
  }

  /// A slot's connection closed.
  mutating func upstreamClosed(_ link: UpstreamHandler) -> ProxyAction {
    switch state {
    case .tunnel(let tunnel) where tunnel.link === link:
      state = .closing
      return .finished(Finish(link: link, pool: false, closeClient: true, ending: tunnel.ending))
    case .proxying(let exchange) where exchange.isAttached(to: link):
      if case .body(let framer, var plan) = exchange.response {
        guard framer.endsAtClose else {
          // Part of the answer went out: the client must see the break, not a spliced answer.
          state = .closing
          return .cut(
            Cut(
              ending: exchange.ending(.proxyError),
              why:
                "slot \(link.upstream.slot) closed the connection in the middle of its answer (status \(plan.status)); the client's connection is cut"
            ))
        }
        // A body delimited by the close: this is its end.
        plan.closeClient = true
        plan.upstreamKeepAlive = false
        return finish(exchange, link, plan, leftover: 0)
      }
      guard case .attached(_, _, let reused) = exchange.leg else { preconditionFailure() }
      let upstream = link.upstream
      let replayable = exchange.copy.isReplayable && exchange.request.method.isIdempotent
      if reused && replayable && exchange.staleRetries < 2 {
        // A pooled connection the slot had closed: not the slot's fault; try a new one, on
        // another slot if there is one (the slot may have died with its connections).
        exchange.staleRetries += 1
        exchange.avoiding.insert(upstream.address)
        return redispatch(exchange, failed: nil)
      }
      if !reused && replayable && exchange.retries == 0 {
        exchange.retries += 1
        exchange.avoiding.insert(upstream.address)
        return redispatch(exchange, failed: upstream)
      }
      let held = HeadParser.headLength(in: exchange.upstreamInbound) != nil
      return fail(
        exchange, .badGateway,
        held
          ? "slot \(upstream.slot) closed the connection before its answer was whole (held: none of it was sent)"
          : "slot \(upstream.slot) closed the connection before answering",
        failed: reused ? nil : upstream, closing: nil)
    case .idle, .routing, .proxying, .tunnel, .closing:
      return .wait
    }
  }
}
