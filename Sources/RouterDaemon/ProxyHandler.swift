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

  let loop: LoopContext
  let routes: RouteState
  let mode: Mode
  var config: RouterConfig { loop.config }
  var context: ChannelHandlerContext?
  var exchange: Exchange?
  var exchangeID = 0
  /// Bytes from the client not handled yet: a partial head, or requests pipelined behind the
  /// one being answered.
  var inbound = ByteBuffer()
  /// The body of the client's current request, while it is being read.
  var requestBody: BodyFramer?
  /// That body belongs to a request the router answered itself: read and dropped.
  var discarding = false
  /// The connection closes once the last answer is written; nothing more is read.
  var closing = false
  var readPaused = false
  /// The client's address, formatted once per connection.
  var clientIP: String?
  var timeoutCheck: RepeatedTask?
  var lastActivity = NIODeadline.now()

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
  func process() {
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
  func readBody() -> Bool {
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

  func forwardBody(_ part: ByteBuffer) {
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
  func abandonExchange() {
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

  func headTooLarge(_ size: Int) {
    respond(
      .requestHeaderFieldsTooLarge,
      "request head is \(size) bytes or more; this router accepts up to \(config.maxHeaderBytes)",
      request: nil, close: true)
  }

  func begin(_ head: MessageHead) {
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

  func keep(_ buffer: ByteBuffer) {
    guard exchange != nil, exchange!.replayable else { return }
    exchange!.replay.append(buffer)
    exchange!.replayBytes += buffer.readableBytes
    if exchange!.replayBytes > config.replayBufferBytes {
      exchange!.replayable = false
      exchange!.replay = []
    }
  }
}
