import NIOCore
import NIOHTTP1
import RouteTable
import SchedModel

/// Proxies the requests of one client connection, one at a time (the pipelining handler before
/// it holds back the next), to an upstream slot of the app's live set, or the candidate set on
/// the preview route. Runs entirely on the connection's event loop.
final class ProxyHandler: ChannelInboundHandler, UpstreamDelegate {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  /// Which set a listener serves.
  enum Mode: Sendable {
    case live
    case preview
  }

  private let loop: LoopContext
  private let routes: RouteState
  private let mode: Mode
  private var config: RouterConfig { loop.config }
  private var context: ChannelHandlerContext?
  private var exchange: Exchange?
  private var exchangeID = 0
  /// The rest of a request the router already answered is read and dropped.
  private var discarding = false
  private var readPaused = false
  private var pipelined = CircularBuffer<HTTPServerRequestPart>()
  /// The client's address, formatted once per connection.
  private var clientIP: String?
  private var timeoutCheck: RepeatedTask?
  private var lastActivity = NIODeadline.now()

  init(loop: LoopContext, routes: RouteState, mode: Mode) {
    self.loop = loop
    self.routes = routes
    self.mode = mode
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    clientIP = context.channel.remoteAddress?.ipAddress
    let shortest = min(config.responseTimeout, config.idleTimeout)
    let every = min(TimeAmount.seconds(1), .nanoseconds(max(shortest.nanoseconds / 4, 1_000_000)))
    let this = NIOLoopBound(self, eventLoop: context.eventLoop)
    timeoutCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
      this.value.checkResponseTimeout()
    }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    timeoutCheck?.cancel()
    timeoutCheck = nil
    self.context = nil
  }

  // MARK: client side

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    lastActivity = .now()
    let part = unwrapInboundIn(data)
    // A pipelined request waits until the one before it is answered. (The router queues them
    // itself rather than through NIO's pipelining handler, which re-arms reads, a syscall, on
    // every request.)
    if !pipelined.isEmpty || (exchange != nil && Self.isHead(part)) {
      pipelined.append(part)
      if pipelined.count > 64 { pauseReading(context) }
      return
    }
    receive(part, context: context)
  }

  private static func isHead(_ part: HTTPServerRequestPart) -> Bool {
    if case .head = part { return true }
    return false
  }

  /// Serves queued pipelined requests once the exchange before them is over.
  private func drainPipelined() {
    guard let context else { return }
    while let next = pipelined.first {
      if exchange != nil, Self.isHead(next) { return }
      pipelined.removeFirst()
      receive(next, context: context)
    }
    if readPaused, exchange == nil { resumeReading(context) }
  }

  private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
    switch part {
    case .head(let head):
      discarding = false
      begin(head, context: context)
    case .body(let buffer):
      guard !discarding, exchange != nil else { return }
      if let upstream = exchange!.current {
        upstream.write(.body(.byteBuffer(buffer)))
        if exchange!.replayable { keep(buffer) }
        if !upstream.isWritable { pauseReading(context) }
      } else {
        keep(buffer)
        exchange!.pendingBody.append(buffer)
        exchange!.pendingBytes += buffer.readableBytes
        if exchange!.pendingBytes > config.replayBufferBytes { pauseReading(context) }
      }
    case .end:
      if discarding {
        discarding = false
        return
      }
      guard exchange != nil else { return }
      exchange!.requestEnded = true
      if let upstream = exchange!.current {
        upstream.write(.end(nil))
        upstream.flush()
      }
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    exchange?.current?.flush()
    context.flush()
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    exchange?.current?.setAutoRead(context.channel.isWritable)
    context.fireChannelWritabilityChanged()
  }

  func channelInactive(context: ChannelHandlerContext) {
    if let exchange {
      // The client left mid-request: the upstream connection is in an unknown state.
      if let upstream = exchange.current {
        upstream.delegate = nil
        upstream.close()
      }
      loop.finished(exchange.counters, nil, since: exchange.start)
      self.exchange = nil
    }
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // A request the codec cannot parse gets 400 when no answer is under way, then the close.
    if error is HTTPParserError, exchange == nil {
      let body = ByteBuffer(string: "bad request: \(error)\n")
      let head = HTTPResponseHead(
        version: .http1_1, status: .badRequest,
        headers: [
          "content-length": "\(body.readableBytes)", "connection": "close",
          "x-turnout-error": "router",
        ])
      context.write(wrapOutboundOut(.head(head)), promise: nil)
      context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
      context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
        context.close(promise: nil)
      }
      return
    }
    context.close(promise: nil)
  }

  private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
    let start = NIODeadline.now()
    let headerBytes = head.headers.reduce(head.uri.utf8.count) {
      $0 + $1.name.utf8.count + $1.value.utf8.count + 4
    }
    guard headerBytes <= config.maxHeaderBytes else {
      respond(
        .requestHeaderFieldsTooLarge,
        "request head is \(headerBytes) bytes; this router accepts up to \(config.maxHeaderBytes)",
        head: head, close: true)
      return
    }
    let table = routes.current
    let host = head.headers.first(name: "host")
    guard let app = table.app(forHost: host, defaultApp: config.defaultApp) else {
      respond(
        .notFound,
        "no app is routed for host '\(host ?? "")'; give the app hosts in its spec or start the router with --default-app",
        head: head, close: false)
      return
    }
    let preview =
      mode == .preview
      || config.previewHeader.map { name in
        head.headers.first(name: name).map { $0 != "0" && !$0.isEmpty } ?? false
      } ?? false
    guard let set = preview ? app.candidate : app.live else {
      respond(
        .serviceUnavailable,
        preview
          ? "\(app.app) has no candidate set to preview; deploy one first"
          : "\(app.app) has no live set", head: head, close: false)
      return
    }
    let key = SetKey(app: app.app, color: set.color)
    guard !set.upstreams.isEmpty else {
      loop.answered(key, .proxyError, since: start)
      respond(
        .serviceUnavailable,
        "the \(set.color.rawValue) set of \(app.app) has no healthy slot", head: head,
        close: false)
      return
    }
    var upstreamHead = HTTPRequestHead(
      version: .http1_1, method: head.method, uri: head.uri, headers: head.headers)
    Self.stripHopByHop(&upstreamHead.headers)
    if let ip = clientIP {
      if let previous = upstreamHead.headers.first(name: "x-forwarded-for") {
        upstreamHead.headers.replaceOrAdd(name: "x-forwarded-for", value: previous + ", " + ip)
      } else {
        upstreamHead.headers.add(name: "x-forwarded-for", value: ip)
      }
    }
    if !upstreamHead.headers.contains(name: "x-forwarded-proto") {
      upstreamHead.headers.add(name: "x-forwarded-proto", value: "http")
    }
    // The router answers `Expect: 100-continue` itself: the body is what it needs to pick and
    // reach a slot, and a slot's own interim answer cannot be told from a replayed request's.
    if upstreamHead.headers.first(name: "expect")?.lowercased() == "100-continue" {
      upstreamHead.headers.remove(name: "expect")
      context.writeAndFlush(
        wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
        promise: nil)
    }
    exchangeID &+= 1
    exchange = Exchange(
      id: exchangeID, key: key, set: set, head: upstreamHead, keepAlive: head.isKeepAlive,
      start: start, idempotent: Self.isIdempotent(head.method))
    exchange!.counters = loop.started(key)
    dispatch()
  }

  private func keep(_ buffer: ByteBuffer) {
    guard exchange != nil, exchange!.replayable else { return }
    exchange!.replay.append(buffer)
    exchange!.replayBytes += buffer.readableBytes
    if exchange!.replayBytes > config.replayBufferBytes {
      exchange!.replayable = false
      exchange!.replay = []
    }
  }

  // MARK: choosing and reaching an upstream

  private func dispatch(fresh: Bool = false) {
    guard let exchange else { return }
    guard let upstream = loop.pick(exchange.set, app: exchange.key.app, excluding: exchange.tried)
    else {
      fail(
        .badGateway,
        "no slot of the \(exchange.set.color.rawValue) set of \(exchange.key.app) could be reached")
      return
    }
    // Only idempotent requests ride a pooled connection: one the upstream closed as it was
    // taken can then be replayed safely.
    if !fresh, exchange.idempotent, let pooled = loop.take(upstream) {
      attach(pooled, reused: true)
      return
    }
    self.exchange!.tried.insert(upstream)
    let id = exchange.id
    loop.connect(upstream).assumeIsolated().whenComplete { result in
      switch result {
      case .success(let connection):
        guard self.exchange?.id == id, self.context?.channel.isActive == true else {
          self.loop.put(connection)
          return
        }
        self.attach(connection, reused: false)
      case .failure:
        guard self.exchange?.id == id else { return }
        self.loop.failed(upstream)
        if self.exchange!.retries == 0 {
          self.exchange!.retries += 1
          self.dispatch(fresh: true)
        } else {
          self.fail(
            .badGateway,
            "cannot connect to slot \(upstream.slot) at \(upstream.address):\(upstream.port)")
        }
      }
    }
  }

  private func attach(_ connection: UpstreamHandler, reused: Bool) {
    guard exchange != nil else { return }
    connection.delegate = self
    connection.uses += 1
    // Set before writing: writability events during the writes below must find the exchange.
    exchange!.current = connection
    exchange!.reused = reused
    let body = exchange!.replayable ? exchange!.replay : exchange!.pendingBody
    exchange!.pendingBody = []
    exchange!.pendingBytes = 0
    let id = exchange!.id
    exchange!.attachedAt = .now()
    // A pooled connection may have been paused by the last client it served.
    connection.setAutoRead(context?.channel.isWritable ?? true)
    connection.write(.head(exchange!.head))
    for buffer in body { connection.write(.body(.byteBuffer(buffer))) }
    if exchange?.requestEnded == true { connection.write(.end(nil)) }
    connection.flush()
    if let context, readPaused, connection.isWritable { resumeReading(context) }
  }

  /// Runs every second or so on the connection's loop: one timer per connection, not per
  /// request, answers 504 for a slot that has not started its answer in time.
  private func checkResponseTimeout() {
    if exchange == nil, pipelined.isEmpty, NIODeadline.now() - lastActivity >= config.idleTimeout {
      context?.close(promise: nil)
      return
    }
    guard let exchange, !exchange.responseStarted, let upstream = exchange.current,
      NIODeadline.now() - exchange.attachedAt >= config.responseTimeout
    else { return }
    upstream.delegate = nil
    upstream.close()
    self.exchange!.current = nil
    loop.failed(upstream.upstream)
    fail(
      .gatewayTimeout,
      "slot \(upstream.upstream.slot) did not answer within \(config.responseTimeout.nanoseconds / 1_000_000) ms"
    )
  }

  // MARK: upstream side

  func upstreamRead(_ part: HTTPClientResponsePart, from connection: UpstreamHandler) {
    guard let context, let exchange, exchange.current === connection else {
      connection.delegate = nil
      connection.close()
      return
    }
    switch part {
    case .head(let head) where head.status.code >= 100 && head.status.code < 200:
      // An interim answer (100, 103) is not the response; its end is not the exchange's.
      self.exchange!.interim = true
    case .end where exchange.interim:
      self.exchange!.interim = false
    case .head(let head):
      self.exchange!.responseStarted = true
      self.exchange!.status = Int(head.status.code)
      self.exchange!.upstreamKeepAlive = head.isKeepAlive
      self.exchange!.replay = []
      loop.succeeded(connection.upstream)
      var out = HTTPResponseHead(version: .http1_1, status: head.status, headers: head.headers)
      Self.stripHopByHop(&out.headers)
      if config.stampResponses {
        out.headers.replaceOrAdd(name: "x-turnout-color", value: exchange.set.color.rawValue)
        out.headers.replaceOrAdd(
          name: "x-turnout-slot", value: connection.upstream.slot.description)
        out.headers.replaceOrAdd(name: "x-turnout-image", value: exchange.set.image)
        out.headers.replaceOrAdd(name: "x-turnout-deployment", value: exchange.set.deployment)
      }
      if !exchange.keepAlive || !exchange.requestEnded {
        out.headers.replaceOrAdd(name: "connection", value: "close")
      }
      context.write(wrapOutboundOut(.head(out)), promise: nil)
    case .body(let buffer):
      context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
      if !context.channel.isWritable { connection.setAutoRead(false) }
    case .end(let trailers):
      let close = !exchange.keepAlive || !exchange.requestEnded
      self.exchange = nil
      loop.finished(exchange.counters, StatusClass(status: exchange.status), since: exchange.start)
      if exchange.upstreamKeepAlive && exchange.requestEnded {
        loop.put(connection)
      } else {
        connection.delegate = nil
        connection.close()
      }
      if close {
        discarding = !exchange.requestEnded
        context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete {
          _ in context.close(promise: nil)
        }
      } else {
        context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
        lastActivity = .now()
      }
      if readPaused { resumeReading(context) }
      if !close { drainPipelined() }
    }
  }

  func upstreamReadComplete(_ connection: UpstreamHandler) {
    context?.flush()
  }

  func upstreamWritabilityChanged(_ connection: UpstreamHandler) {
    guard let context, exchange?.current === connection else { return }
    if connection.isWritable {
      resumeReading(context)
    } else {
      pauseReading(context)
    }
  }

  func upstreamClosed(_ connection: UpstreamHandler) {
    guard let exchange, exchange.current === connection else { return }
    self.exchange!.current = nil
    let upstream = connection.upstream
    if exchange.responseStarted {
      // Part of the answer went out: the client must see the break, not a spliced response.
      loop.finished(exchange.counters, .proxyError, since: exchange.start)
      self.exchange = nil
      context?.close(promise: nil)
      return
    }
    let replayable = exchange.replayable && exchange.idempotent
    if exchange.reused && replayable && exchange.staleRetries < 2 {
      // A pooled connection the upstream had closed: not the slot's fault, try a new one.
      self.exchange!.staleRetries += 1
      dispatch(fresh: true)
    } else if !exchange.reused && replayable && exchange.retries == 0 {
      loop.failed(upstream)
      self.exchange!.retries += 1
      dispatch(fresh: true)
    } else {
      if !exchange.reused { loop.failed(upstream) }
      fail(.badGateway, "slot \(upstream.slot) closed the connection before answering")
    }
  }

  // MARK: answering without an upstream

  private func fail(_ status: HTTPResponseStatus, _ message: String) {
    guard let exchange else { return }
    self.exchange = nil
    loop.finished(exchange.counters, .proxyError, since: exchange.start)
    let close = !exchange.keepAlive || !exchange.requestEnded
    respond(status, message, head: nil, close: close, requestEnded: exchange.requestEnded)
    if !close { drainPipelined() }
  }

  private func respond(
    _ status: HTTPResponseStatus, _ message: String, head: HTTPRequestHead?, close: Bool,
    requestEnded: Bool = false
  ) {
    guard let context else { return }
    // Whatever is left of this request is read and dropped.
    if head != nil || !requestEnded { discarding = true }
    let body = ByteBuffer(string: message + "\n")
    var headers = HTTPHeaders([
      ("content-type", "text/plain; charset=utf-8"), ("content-length", "\(body.readableBytes)"),
      ("x-turnout-error", "router"),
    ])
    let close = close || !(head?.isKeepAlive ?? true)
    if close { headers.add(name: "connection", value: "close") }
    context.write(
      wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
      promise: nil)
    if head?.method != .HEAD {
      context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
    }
    if close {
      context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
        context.close(promise: nil)
      }
    } else {
      context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
    if readPaused { resumeReading(context) }
  }

  private func pauseReading(_ context: ChannelHandlerContext) {
    guard !readPaused else { return }
    readPaused = true
    _ = try? context.channel.syncOptions?.setOption(.autoRead, value: false)
  }

  private func resumeReading(_ context: ChannelHandlerContext) {
    guard readPaused else { return }
    readPaused = false
    _ = try? context.channel.syncOptions?.setOption(.autoRead, value: true)
    context.read()
  }

  // MARK: headers

  static func isIdempotent(_ method: HTTPMethod) -> Bool {
    switch method {
    case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: true
    default: false
    }
  }

  private static func isHopByHopName(_ name: String) -> Bool {
    switch name.utf8.count {
    case 2, 7, 10, 16:
      let lower = name.lowercased()
      return lower == "te" || lower == "upgrade" || lower == "connection" || lower == "keep-alive"
        || lower == "proxy-connection"
    default: return false
    }
  }

  /// Removes headers that describe one hop, not the message: those `connection` lists too.
  static func stripHopByHop(_ headers: inout HTTPHeaders) {
    // Most messages carry none of these: find out with one cheap pass before any removal.
    guard headers.contains(where: { isHopByHopName($0.name) }) else { return }
    let listed = headers[canonicalForm: "connection"].map { $0.lowercased() }
    for name in ["connection", "keep-alive", "proxy-connection", "te", "upgrade"] + listed
    where name != "transfer-encoding" {
      headers.remove(name: String(name))
    }
  }
}

/// One request on its way through the router (a class: handlers pass it around per part).
private final class Exchange {
  let id: Int
  let key: SetKey
  let set: RouteSet
  let head: HTTPRequestHead
  /// The client wants the connection kept after this response.
  let keepAlive: Bool
  let start: NIODeadline
  let idempotent: Bool
  var counters: SetCounters?
  var tried: Set<Upstream> = []
  /// Body parts that arrived before an upstream was attached.
  var pendingBody: [ByteBuffer] = []
  var pendingBytes = 0
  /// The whole body so far, while it is small enough to replay on another connection.
  var replay: [ByteBuffer] = []
  var replayBytes = 0
  var replayable = true
  var requestEnded = false
  var current: UpstreamHandler?
  var reused = false
  var retries = 0
  var staleRetries = 0
  var responseStarted = false
  var status = 0
  var upstreamKeepAlive = false
  var interim = false
  /// When the request went to its current upstream, for the response timeout.
  var attachedAt: NIODeadline = .now()

  init(
    id: Int, key: SetKey, set: RouteSet, head: HTTPRequestHead, keepAlive: Bool,
    start: NIODeadline, idempotent: Bool
  ) {
    self.id = id
    self.key = key
    self.set = set
    self.head = head
    self.keepAlive = keepAlive
    self.start = start
    self.idempotent = idempotent
  }
}
