import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable
import SchedModel

/// Proxies the requests of one client connection, one at a time, to an upstream slot of the
/// app's live set, or the candidate set on the preview route. Works on the bytes as read: heads
/// are parsed in place and forwarded as copied ranges, bodies pass through as they arrive with
/// only their framing tracked. Runs entirely on the connection's event loop.
final class ProxyHandler: ChannelInboundHandler, UpstreamDelegate {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

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
  /// Bytes from the client not handled yet: a partial head, or requests pipelined behind the
  /// one being answered.
  private var inbound = ByteBuffer()
  /// The body of the client's current request, while it is being read.
  private var requestBody: BodyFramer?
  /// That body belongs to a request the router answered itself: read and dropped.
  private var discarding = false
  /// The connection closes once the last answer is written; nothing more is read.
  private var closing = false
  private var readPaused = false
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
      this.value.checkTimeouts()
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
    guard !closing else { return }
    var buffer = unwrapInboundIn(data)
    if let exchange, exchange.tunnel {
      guard let upstream = exchange.current else { return }
      upstream.write(buffer)
      if !upstream.isWritable { pauseReading(context) }
      return
    }
    if inbound.readableBytes == 0 {
      inbound = buffer
    } else {
      inbound.writeBuffer(&buffer)
    }
    process()
  }

  /// Handles what `inbound` holds: body bytes of the current request, then (once its answer is
  /// out) the next request's head.
  private func process() {
    while !closing, inbound.readableBytes > 0 {
      if requestBody != nil {
        guard readBody() else { return }
        continue
      }
      // A pipelined request waits until the one before it is answered.
      if exchange != nil {
        if inbound.readableBytes > config.maxHeaderBytes, let context { pauseReading(context) }
        return
      }
      let blank = HeadParser.leadingEmptyLines(in: inbound)
      if blank > 0 { inbound.moveReaderIndex(forwardBy: blank) }
      guard let length = HeadParser.headLength(in: inbound) else {
        if inbound.readableBytes > config.maxHeaderBytes { headTooLarge(inbound.readableBytes) }
        return
      }
      guard length <= config.maxHeaderBytes else {
        headTooLarge(length)
        return
      }
      let bytes = inbound.readSlice(length: length)!
      do {
        begin(try HeadParser.request(bytes, previewHeader: config.previewHeader))
      } catch {
        closing = true
        write(
          HeadWriter.answer(
            status: 400, reason: "Bad Request", message: "bad request: \(error)", close: true,
            includeBody: true), thenClose: true)
      }
    }
  }

  /// Reads body bytes of the current request from `inbound`; false when nothing more can be
  /// done until more bytes arrive (or the connection is closing).
  private func readBody() -> Bool {
    var framer = requestBody!
    let consumed: Int
    do {
      consumed = try inbound.withReadableBytes { bytes throws(HeadError) in
        try framer.consume(bytes)
      }
    } catch {
      // The framing is broken: nothing after this point can be trusted to be a request.
      closing = true
      if exchange == nil {
        write(
          HeadWriter.answer(
            status: 400, reason: "Bad Request", message: "bad request: \(error)", close: true,
            includeBody: true), thenClose: true)
      } else {
        abandonExchange()
        context?.close(promise: nil)
      }
      return false
    }
    let part = inbound.readSlice(length: consumed)!
    requestBody = framer.isDone ? nil : framer
    if discarding {
      if framer.isDone { discarding = false }
    } else if exchange != nil {
      if part.readableBytes > 0 { forwardBody(part) }
      if framer.isDone {
        exchange!.requestEnded = true
        exchange!.current?.flush()
      }
    }
    return consumed > 0 || framer.isDone
  }

  private func forwardBody(_ part: ByteBuffer) {
    guard let context, exchange != nil else { return }
    if let upstream = exchange!.current {
      upstream.write(part)
      if exchange!.replayable { keep(part) }
      if !upstream.isWritable { pauseReading(context) }
    } else {
      keep(part)
      exchange!.pendingBody.append(part)
      exchange!.pendingBytes += part.readableBytes
      if exchange!.pendingBytes > config.replayBufferBytes { pauseReading(context) }
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
    abandonExchange()
    context.fireChannelInactive()
  }

  /// The client left or broke the framing mid-request: the upstream connection is in an
  /// unknown state and is closed.
  private func abandonExchange() {
    guard let exchange else { return }
    if let upstream = exchange.current {
      upstream.delegate = nil
      upstream.close()
    }
    loop.finished(exchange.counters, nil, since: exchange.start)
    self.exchange = nil
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }

  private func headTooLarge(_ size: Int) {
    respond(
      .requestHeaderFieldsTooLarge,
      "request head is \(size) bytes or more; this router accepts up to \(config.maxHeaderBytes)",
      request: nil, close: true)
  }

  private func begin(_ head: MessageHead) {
    let start = NIODeadline.now()
    let table = routes.current
    guard let app = table.app(forHost: head.host, defaultApp: config.defaultApp) else {
      respond(
        .notFound,
        "no app is routed for host '\(head.host ?? "")'; give the app hosts in its spec or start the router with --default-app",
        request: head, close: false)
      return
    }
    let preview =
      mode == .preview || head.previewValue.map { $0 != "0" && !$0.isEmpty } ?? false
    guard let set = preview ? app.candidate : app.live else {
      respond(
        .serviceUnavailable,
        preview
          ? "\(app.app) has no candidate set to preview; deploy one first"
          : "\(app.app) has no live set", request: head, close: false)
      return
    }
    let key = SetKey(app: app.app, color: set.color)
    let counted = CounterKey(set: key, route: preview ? .preview : .production)
    guard !set.upstreams.isEmpty else {
      loop.answered(counted, .proxyError, since: start)
      respond(
        .serviceUnavailable,
        "the \(set.color.rawValue) set of \(app.app) has no healthy slot", request: head,
        close: false)
      return
    }
    var upstreamHead = ByteBuffer()
    upstreamHead.reserveCapacity(head.bytes.readableBytes + 96)
    HeadWriter.request(head, clientIP: clientIP, into: &upstreamHead)
    // The router answers `Expect: 100-continue` itself: the body is what it needs to pick and
    // reach a slot, and a slot's own interim answer cannot be told from a replayed request's.
    if head.expectsContinue, let context {
      context.writeAndFlush(
        wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
    }
    exchangeID &+= 1
    exchange = Exchange(
      id: exchangeID, key: key, set: set, head: upstreamHead, method: head.method,
      clientMinorVersion: head.minorVersion, keepAlive: head.keepAlive,
      upgrade: head.upgrade != nil, start: start)
    exchange!.counters = loop.started(counted)
    let framer = BodyFramer(head.framing)
    if framer.isDone {
      exchange!.requestEnded = true
    } else {
      requestBody = framer
    }
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
    if !fresh, exchange.method.isIdempotent, let pooled = loop.take(upstream) {
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
    exchange!.attachedAt = .now()
    // A pooled connection may have been paused by the last client it served.
    connection.setAutoRead(context?.channel.isWritable ?? true)
    connection.write(exchange!.head)
    for buffer in body { connection.write(buffer) }
    connection.flush()
    if let context, readPaused, connection.isWritable { resumeReading(context) }
  }

  /// Runs every second or so on the connection's loop: one timer per connection, not per
  /// request. Closes an idle client connection; answers 504 for a slot that has not started
  /// its answer in time.
  private func checkTimeouts() {
    if exchange?.tunnel ?? true, NIODeadline.now() - lastActivity >= config.idleTimeout {
      abandonExchange()
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

  func upstreamRead(_ buffer: ByteBuffer, from connection: UpstreamHandler) {
    guard exchange != nil, exchange!.current === connection else {
      connection.delegate = nil
      connection.close()
      return
    }
    if exchange!.tunnel {
      lastActivity = .now()
      context?.write(wrapOutboundOut(buffer), promise: nil)
      if context?.channel.isWritable == false { connection.setAutoRead(false) }
      return
    }
    var buffer = buffer
    if exchange!.responseInbound.readableBytes > 0 {
      exchange!.responseInbound.writeBuffer(&buffer)
      buffer = exchange!.responseInbound
      exchange!.responseInbound = ByteBuffer()
    }
    while let exchange, exchange.current === connection, buffer.readableBytes > 0 {
      if var framer = exchange.responseBody {
        guard forwardResponseBody(&buffer, &framer, exchange, connection) else { return }
      } else if !readResponseHead(&buffer, exchange, connection) {
        return
      }
    }
  }

  /// Parses the response head at the front of `buffer` and writes the client's; false when
  /// more bytes are needed or the exchange ended.
  private func readResponseHead(
    _ buffer: inout ByteBuffer, _ exchange: Exchange, _ connection: UpstreamHandler
  ) -> Bool {
    guard let length = HeadParser.headLength(in: buffer) else {
      if buffer.readableBytes > Self.maxResponseHeadBytes {
        upstreamBroke(
          connection,
          "slot \(connection.upstream.slot) sent a response head over \(Self.maxResponseHeadBytes) bytes"
        )
      } else {
        exchange.responseInbound = buffer
      }
      return false
    }
    let head: MessageHead
    do {
      head = try HeadParser.response(
        buffer.readSlice(length: length)!, stamping: config.stampResponses)
    } catch {
      upstreamBroke(
        connection,
        "slot \(connection.upstream.slot) sent a response that cannot be parsed: \(error)")
      return false
    }
    // An interim answer (100, 103) is not the response.
    if head.status < 200 {
      if head.status == 101 {
        guard exchange.upgrade, head.upgrade != nil else {
          upstreamBroke(
            connection,
            "slot \(connection.upstream.slot) switched protocols though the request did not ask to"
          )
          return false
        }
        openTunnel(connection, head, &buffer, exchange)
        return false
      }
      return true
    }
    let framing = HeadParser.responseFraming(head, method: exchange.method)
    let dechunk = exchange.clientMinorVersion == 0 && framing == .chunked
    let close =
      !exchange.keepAlive || !exchange.requestEnded || framing == .untilClose || dechunk
    exchange.responseStarted = true
    exchange.status = head.status
    exchange.upstreamKeepAlive = head.keepAlive && framing != .untilClose
    exchange.closeClient = close
    exchange.dechunk = dechunk
    exchange.replay = []
    loop.succeeded(connection.upstream)
    var out = ByteBuffer()
    out.reserveCapacity(head.bytes.readableBytes + 160)
    HeadWriter.response(
      head, stamps: config.stampResponses ? connection.stamps(for: exchange.set) : nil,
      persistence: close ? .close : exchange.clientMinorVersion == 0 ? .keepAlive : .implicit,
      dechunk: dechunk, into: &out)
    context?.write(wrapOutboundOut(out), promise: nil)
    let framer = BodyFramer(framing)
    if framer.isDone {
      finishResponse(connection, leftover: buffer.readableBytes)
      return false
    }
    exchange.responseBody = framer
    return true
  }

  /// Forwards the body bytes at the front of `buffer`; false when the exchange ended or broke.
  private func forwardResponseBody(
    _ buffer: inout ByteBuffer, _ framer: inout BodyFramer, _ exchange: Exchange,
    _ connection: UpstreamHandler
  ) -> Bool {
    guard let context else { return false }
    var data: [Range<Int>] = []
    let dechunk = exchange.dechunk
    let consumed: Int
    do {
      consumed = try buffer.withReadableBytes { bytes throws(HeadError) in
        dechunk ? try framer.consume(bytes) { data.append($0) } : try framer.consume(bytes)
      }
    } catch {
      upstreamBroke(
        connection, "slot \(connection.upstream.slot) broke the body framing: \(error)")
      return false
    }
    if dechunk {
      for range in data {
        context.write(
          wrapOutboundOut(
            buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)!),
          promise: nil)
      }
      buffer.moveReaderIndex(forwardBy: consumed)
    } else {
      context.write(wrapOutboundOut(buffer.readSlice(length: consumed)!), promise: nil)
    }
    exchange.responseBody = framer
    if framer.isDone {
      finishResponse(connection, leftover: buffer.readableBytes)
      return false
    }
    if !context.channel.isWritable { connection.setAutoRead(false) }
    return true
  }

  static let maxResponseHeadBytes = 64 * 1024

  /// The slot agreed to switch protocols: its 101 goes to the client, and from here on the two
  /// connections are spliced, bytes passing both ways untouched (with the same back-pressure)
  /// until either side closes or both stay silent for the idle timeout. The request counts as
  /// answered now and stays in flight until the end, so a drain waits for it.
  private func openTunnel(
    _ connection: UpstreamHandler, _ head: MessageHead, _ buffer: inout ByteBuffer,
    _ exchange: Exchange
  ) {
    guard let context else { return }
    exchange.responseStarted = true
    exchange.tunnel = true
    exchange.status = 101
    exchange.replay = []
    loop.succeeded(connection.upstream)
    loop.switchedProtocols(exchange.counters, since: exchange.start)
    var out = ByteBuffer()
    out.reserveCapacity(head.bytes.readableBytes + 160)
    HeadWriter.response(
      head, stamps: config.stampResponses ? connection.stamps(for: exchange.set) : nil,
      persistence: .upgraded, dechunk: false, into: &out)
    context.write(wrapOutboundOut(out), promise: nil)
    if buffer.readableBytes > 0 {
      context.write(wrapOutboundOut(buffer.readSlice(length: buffer.readableBytes)!), promise: nil)
    }
    context.flush()
    // What the client sent after its request head already speaks the new protocol.
    if inbound.readableBytes > 0 {
      connection.write(inbound)
      connection.flush()
      inbound = ByteBuffer()
    }
    lastActivity = .now()
    if readPaused { resumeReading(context) }
  }

  /// The response is complete: count it, pool or close the upstream connection, flush the
  /// client, and go on with a pipelined request.
  private func finishResponse(_ connection: UpstreamHandler, leftover: Int) {
    guard let context, let exchange else { return }
    self.exchange = nil
    loop.finished(exchange.counters, StatusClass(status: exchange.status), since: exchange.start)
    // Bytes after the response mean the upstream is out of step: never reuse it.
    if exchange.upstreamKeepAlive && exchange.requestEnded && leftover == 0 {
      loop.put(connection)
    } else {
      connection.delegate = nil
      connection.close()
    }
    if exchange.closeClient {
      closing = true
      write(ByteBuffer(), thenClose: true)
      return
    }
    context.flush()
    lastActivity = .now()
    if readPaused { resumeReading(context) }
    process()
  }

  /// The upstream said something that cannot be forwarded: it is closed; the client gets 502
  /// if nothing of the answer went out yet, or sees its connection closed.
  private func upstreamBroke(_ connection: UpstreamHandler, _ message: String) {
    guard let exchange else { return }
    connection.delegate = nil
    connection.close()
    exchange.current = nil
    loop.failed(connection.upstream)
    if exchange.responseStarted {
      loop.finished(exchange.counters, .proxyError, since: exchange.start)
      self.exchange = nil
      closing = true
      context?.close(promise: nil)
    } else {
      fail(.badGateway, message)
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
    if exchange.tunnel {
      exchange.current = nil
      loop.finished(exchange.counters, nil, since: exchange.start)
      self.exchange = nil
      closing = true
      write(ByteBuffer(), thenClose: true)
      return
    }
    if exchange.responseStarted, exchange.responseBody?.endsAtClose == true {
      // A body delimited by the close: this is its end.
      exchange.closeClient = true
      exchange.upstreamKeepAlive = false
      finishResponse(connection, leftover: 0)
      return
    }
    exchange.current = nil
    let upstream = connection.upstream
    if exchange.responseStarted {
      // Part of the answer went out: the client must see the break, not a spliced response.
      loop.finished(exchange.counters, .proxyError, since: exchange.start)
      self.exchange = nil
      closing = true
      context?.close(promise: nil)
      return
    }
    let replayable = exchange.replayable && exchange.method.isIdempotent
    if exchange.reused && replayable && exchange.staleRetries < 2 {
      // A pooled connection the upstream had closed: not the slot's fault, try a new one.
      exchange.staleRetries += 1
      dispatch(fresh: true)
    } else if !exchange.reused && replayable && exchange.retries == 0 {
      loop.failed(upstream)
      exchange.retries += 1
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
    // Whatever is left of the request body is read and dropped.
    if requestBody != nil { discarding = true }
    let close = !exchange.keepAlive || !exchange.requestEnded || exchange.clientMinorVersion == 0
    answer(status, message, close: close, includeBody: exchange.method != .head)
    if !close { process() }
  }

  /// Answers a request the router does not forward. One with a body closes the connection
  /// after the answer: a client waiting on `Expect` may never send that body.
  private func respond(
    _ status: HTTPResponseStatus, _ message: String, request: MessageHead?, close: Bool
  ) {
    let hasBody = request.map { $0.framing != .none } ?? false
    let close =
      close || hasBody || !(request?.keepAlive ?? false) || request?.minorVersion == 0
    answer(status, message, close: close, includeBody: request?.method != .head)
  }

  private func answer(
    _ status: HTTPResponseStatus, _ message: String, close: Bool, includeBody: Bool
  ) {
    if close { closing = true }
    write(
      HeadWriter.answer(
        status: Int(status.code), reason: status.reasonPhrase, message: message, close: close,
        includeBody: includeBody), thenClose: close)
    if let context, readPaused, !close { resumeReading(context) }
  }

  private func write(_ bytes: ByteBuffer, thenClose: Bool) {
    guard let context else { return }
    if thenClose {
      context.writeAndFlush(wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
        context.close(promise: nil)
      }
    } else {
      context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }
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
}

/// One request on its way through the router (a class: handlers pass it around per part).
private final class Exchange {
  let id: Int
  let key: SetKey
  let set: RouteSet
  /// The request head as the upstream gets it.
  let head: ByteBuffer
  let method: MessageHead.Method
  let clientMinorVersion: Int
  /// The client wants the connection kept after this response.
  let keepAlive: Bool
  /// The request asks to switch protocols (a WebSocket handshake).
  let upgrade: Bool
  /// The slot switched protocols: both connections are spliced until one closes.
  var tunnel = false
  let start: NIODeadline
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
  /// Part of a response head read so far.
  var responseInbound = ByteBuffer()
  /// The response body being forwarded, once the head went out.
  var responseBody: BodyFramer?
  var responseStarted = false
  var status = 0
  var upstreamKeepAlive = false
  var closeClient = false
  var dechunk = false
  /// When the request went to its current upstream, for the response timeout.
  var attachedAt: NIODeadline = .now()

  init(
    id: Int, key: SetKey, set: RouteSet, head: ByteBuffer, method: MessageHead.Method,
    clientMinorVersion: Int, keepAlive: Bool, upgrade: Bool, start: NIODeadline
  ) {
    self.id = id
    self.key = key
    self.set = set
    self.head = head
    self.method = method
    self.clientMinorVersion = clientMinorVersion
    self.keepAlive = keepAlive
    self.upgrade = upgrade
    self.start = start
  }
}
