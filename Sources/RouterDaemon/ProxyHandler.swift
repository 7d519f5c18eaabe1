import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable
import SchedModel

/// Proxies the requests of one client connection (or one HTTP/2 stream), one at a time, to an
/// upstream slot of the app's live set, or the candidate set on the preview listener. What to
/// do is decided by its `ProxyConnection` value; this handler feeds it events and carries out
/// the actions it returns: writes, reads paused and resumed, connections pooled or closed,
/// counts. Runs entirely on the connection's event loop. Over HTTP/1.1 it is the channel's
/// handler; for an HTTP/2 stream, `HTTP2ProxyHandler` feeds it the same events (see
/// `ClientEnd`).
final class ProxyHandler: ChannelInboundHandler, UpstreamDelegate, LoopClient {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  let loop: LoopContext
  let routes: RouteState
  let listener: ProxyRoute.Listener
  /// Whether clients reach this listener over TLS (`x-forwarded-proto: https`).
  let secure: Bool
  /// The HSTS value of the exchange under way, when its app has one (HTTPS only).
  var hsts: String?
  var machine: ProxyConnection
  /// Where answers go: the connection's channel, or an HTTP/2 stream. nil once it is gone.
  var client: ClientEnd?
  /// The client's reads are switched off (back-pressure or too much held).
  var readPaused = false
  /// The client's address, formatted once per connection.
  var clientIP: String?
  /// An answer's head and the small body parts read with it, sent as one write at the next
  /// flush (or before anything else goes to the client): one trip down the pipeline, not one
  /// per part.
  var outbox: ByteBuffer?
  /// Bytes went to the client since its last flush.
  var clientUnflushed = false
  /// The last forwarded request's route, for the next request to the same host.
  var memo: RouteMemo?
  /// A request on this connection was forwarded before.
  var routed = false
  /// The fields the router adds to every request of this client, made once it makes a second.
  var forwardedTail: ByteBuffer?

  init(loop: LoopContext, routes: RouteState, listener: ProxyRoute.Listener, secure: Bool = false) {
    self.secure = secure
    self.loop = loop
    self.routes = routes
    self.listener = listener
    self.machine = ProxyConnection(limits: loop.limits, now: loop.now)
  }

  func handlerAdded(context: ChannelHandlerContext) {
    // Added after the TLS handshake (ALPN chose HTTP/1.1): the channel is active already and
    // channelActive will not come.
    if context.channel.isActive { clientIP = context.channel.remoteAddress?.ipAddress }
    start(.channel(context))
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    stop()
  }

  /// Begins serving `client`. Its timeouts are checked by the loop's sweep: no timer per
  /// connection or stream.
  func start(_ client: ClientEnd) {
    self.client = client
    loop.add(self)
    if loop.draining { drain() }
  }

  /// The client end is gone for good: nothing more is written to it.
  func stop() {
    client = nil
    loop.remove(self)
  }

  /// The scheduler withdrew `gone`: a request waiting on one of them may go elsewhere.
  func withdrawn(_ gone: Set<Upstream>, routes: CompiledRoutes) {
    perform(machine.withdrawn(gone, table: routes.table))
    drainClient()
  }

  /// The router is going away: this connection closes after its answer under way, or once
  /// idle past the drain grace (the loop's sweep checks often from now on).
  func drain() {
    perform(machine.drain(now: loop.now))
  }

  // MARK: events in

  func channelActive(context: ChannelHandlerContext) {
    clientIP = context.channel.remoteAddress?.ipAddress
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    clientRead(unwrapInboundIn(data))
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    clientReadComplete()
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    clientWritabilityChanged()
    context.fireChannelWritabilityChanged()
  }

  func channelInactive(context: ChannelHandlerContext) {
    clientClosed()
    context.fireChannelInactive()
  }

  /// Bytes from the client: HTTP/1.1 as it came, or an HTTP/2 stream's request translated.
  func clientRead(_ bytes: ByteBuffer) {
    perform(machine.clientRead(bytes, now: loop.now))
    drainClient()
  }

  /// The end of a batch of client reads: what was written on either side goes out.
  func clientReadComplete() {
    machine.link?.flushIfNeeded()
    flushClient()
  }

  /// The client can take more, or can take no more for now: the slot's reads follow.
  func clientWritabilityChanged() {
    machine.link?.setAutoRead(clientWritable)
  }

  /// The client left (its connection closed, or its stream was reset or ended).
  func clientClosed() {
    perform(machine.clientClosed())
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }

  /// Runs every second or so on the connection's loop, from the loop's sweep: one timer per
  /// loop, not per connection or request.
  func checkTimeouts() {
    perform(machine.tick(now: loop.now))
    // A held answer let out by the tick goes on from the bytes already in.
    drainUpstream()
    flushClient()
    drainClient()
  }

  func upstreamRead(_ bytes: ByteBuffer, from link: UpstreamHandler) {
    perform(machine.upstreamRead(bytes, from: link, now: loop.now))
    drainUpstream()
    drainClient()
  }

  func upstreamReadComplete(_ link: UpstreamHandler) {
    flushClient()
  }

  func upstreamWritabilityChanged(_ link: UpstreamHandler) {
    guard machine.link === link else { return }
    if link.isWritable {
      resumeReading()
    } else {
      pauseReading()
    }
  }

  func upstreamClosed(_ link: UpstreamHandler) {
    perform(machine.upstreamClosed(link))
    drainClient()
  }

  /// Carries out what the client's bytes call for until the connection waits for another
  /// event; pipelined requests go on from here once the one before them is answered.
  func drainClient() {
    while true {
      switch machine.nextFromClient() {
      case .wait: return
      case .pauseClient:
        pauseReading()
        return
      case let action: perform(action)
      }
    }
  }

  /// Carries out what the slot's bytes call for until the connection waits.
  func drainUpstream() {
    while true {
      let action = machine.nextFromUpstream()
      if case .wait = action { return }
      perform(action)
    }
  }

  // MARK: routing and reaching a slot

  func route(_ head: MessageHead) {
    let current = routes.current
    if let memo, memo.holds(for: head, in: current),
      !ProxyRoute.isChallenge(head, listener: listener, secure: secure)
    {
      forward(head, memo.set, memo.counted, memo.counters, memo.hsts)
      return
    }
    switch ProxyRoute.resolve(
      head, in: current, listener: listener, defaultApp: loop.config.defaultApp,
      secure: secure, httpsPort: loop.config.tlsPort, challenge: routes.challenges.keyAuthorization)
    {
    case .challenge(let keyAuthorization):
      perform(machine.refuse(head, .ok, keyAuthorization, exact: true))
    case .refuse(let status, let message, let counted):
      if let counted { loop.answered(counted, .proxyError, since: loop.now) }
      perform(machine.refuse(head, status, message))
    case .redirect(let location):
      perform(
        machine.refuse(
          head, .permanentRedirect, "this app is served over HTTPS: \(location)",
          location: location))
    case .forward(let set, let counted, let hsts):
      let counters = loop.counters(counted)
      // Kept from a connection's second request on: one that makes a single request (a
      // `Connection: close` client, an HTTP/2 stream) would pay for a memo it never reads.
      if routed {
        memo = RouteMemo(
          routes: current.id, host: head.host, preview: head.previewValue, set: set,
          counted: counted, counters: counters, hsts: hsts)
      }
      routed = true
      forward(head, set, counted, counters, hsts)
    }
  }

  private func forward(
    _ head: MessageHead, _ set: RouteSet, _ counted: CounterKey, _ counters: SetCounters,
    _ hsts: String?
  ) {
    self.hsts = hsts
    var upstreamHead = ByteBufferAllocator().buffer(capacity: head.bytes.readableBytes + 96)
    if memo != nil, forwardedTail == nil {
      forwardedTail = HeadWriter.forwardedTail(clientIP: clientIP, secure: secure)
    }
    HeadWriter.request(
      head, clientIP: clientIP, secure: secure, tail: forwardedTail, into: &upstreamHead)
    perform(
      machine.begin(
        head, set: set, app: counted.set.app, counters: loop.started(counters),
        upstreamHead: upstreamHead, now: loop.now))
  }

  /// Picks a slot; only idempotent requests ride a pooled connection, so one the slot closed
  /// as it was taken can be replayed safely.
  func dispatch(_ plan: DispatchPlan) {
    if let failed = plan.failed { loop.failed(failed) }
    if plan.sendContinue {
      client?.write(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n"))
      client?.flush()
    }
    if let stale = plan.closing { close(stale) }
    var preferred: Upstream?
    if !plan.avoiding.isEmpty {
      let elsewhere = plan.set.upstreams.filter { !plan.avoiding.contains($0.address) }
      if !elsewhere.isEmpty {
        preferred = loop.pick(
          plan.set, balancer: plan.counters.balancer, excluding: plan.excluding, among: elsewhere)
      }
    }
    guard
      let upstream = preferred
        ?? loop.pick(plan.set, balancer: plan.counters.balancer, excluding: plan.excluding)
    else {
      perform(machine.noSlot())
      return
    }
    if plan.reuse, let pooled = loop.take(upstream) {
      perform(machine.attach(pooled, now: loop.now))
      return
    }
    machine.connecting(to: upstream)
    loop.connect(upstream).assumeIsolated().whenComplete { result in
      switch result {
      case .success(let link):
        self.perform(self.machine.connected(link, exchange: plan.exchange, now: self.loop.now))
      case .failure:
        self.perform(self.machine.connectFailed(upstream, exchange: plan.exchange))
      }
      self.drainClient()
    }
  }
}
