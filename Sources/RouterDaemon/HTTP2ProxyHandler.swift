import NIOCore
import NIOHTTP2
import RouteTable

/// The HTTP/2 side of one client connection, under swift-nio-http2's `NIOHTTP2Handler` in
/// frame mode: every stream is an `HTTP2ProxyStream` with its own `ProxyHandler`, frames are
/// handed to it by stream ID, and its answers go out as frames through this one handler. No
/// child channel per stream (making, activating and closing one cost a sixth of a stream's
/// instructions), so the receive windows are given back here, and the flushes of all streams
/// during one turn of the event loop become one flush at its end (the answers of many streams
/// go out in one TLS write).
final class HTTP2ProxyHandler: ChannelInboundHandler, LoopClient {
  typealias InboundIn = HTTP2Frame
  typealias OutboundOut = HTTP2Frame

  let loop: LoopContext
  let routes: RouteState
  let listener: ProxyRoute.Listener
  /// The receive window kept open for each stream and for the connection (the HTTP/2 default,
  /// which the router's settings leave as it is).
  let windowTarget = 65_535
  private var context: ChannelHandlerContext?
  private var streams: [HTTP2StreamID: HTTP2ProxyStream] = [:]
  /// Streams read from in this turn of the loop, due a read-complete.
  private var readInTurn: [HTTP2ProxyStream] = []
  /// Streams closed whose proxies are told at the end of the turn.
  private var retiring: [HTTP2ProxyStream] = []
  private var connectionWindow: HTTP2InboundWindow
  private var clientIP: String?
  private var tickScheduled = false
  private var needsFlush = false
  /// Since when the connection has had no stream open.
  private var idleSince: NIODeadline
  /// The highest stream the client opened, for GOAWAY.
  private var lastStreamID = HTTP2StreamID(0)
  /// GOAWAY went out: the connection closes once its streams are done.
  private var goingAway = false
  /// The route of the last stream that was forwarded, for the streams after it (one client,
  /// nearly always one host): each stream's proxy starts with it.
  private var memo: RouteMemo?
  /// The request fields the router adds for this client (`ProxyHandler.forwardedTail`).
  private var forwardedTail: ByteBuffer?

  /// The connection's settings for `NIOHTTP2Handler`: its header and content-length
  /// validation off, since `HTTP2RequestTranslator` checks every request (and the router's own
  /// answers are well-formed by construction).
  static var connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration {
    var configuration = NIOHTTP2Handler.ConnectionConfiguration()
    configuration.headerBlockValidation = .disabled
    configuration.contentLengthValidation = .disabled
    return configuration
  }

  init(loop: LoopContext, routes: RouteState, listener: ProxyRoute.Listener) {
    self.loop = loop
    self.routes = routes
    self.listener = listener
    self.connectionWindow = HTTP2InboundWindow(target: windowTarget)
    self.idleSince = loop.now
  }

  var isWritable: Bool { context?.channel.isWritable ?? false }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    clientIP = context.channel.remoteAddress?.ipAddress
    // The loop's sweep closes the connection once idle; a drain reaches it with GOAWAY.
    loop.add(self)
    if loop.draining { drain() }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    closeAll()
    loop.remove(self)
    self.context = nil
  }

  // MARK: the loop's sweep and drain

  /// With no stream open for the idle timeout (the drain grace once draining), the
  /// connection says GOAWAY and closes.
  func checkTimeouts() {
    guard streams.isEmpty, retiring.isEmpty, let context else { return }
    let limit = goingAway ? loop.limits.drainIdleGrace : loop.limits.idleTimeout
    guard loop.now - idleSince >= limit else { return }
    sendGoAway()
    context.close(promise: nil)
  }

  /// No new streams from here on (GOAWAY); the open ones finish, then the connection closes.
  func drain() {
    sendGoAway()
  }

  /// Each stream's proxy is told by its own entry in the loop.
  func withdrawn(_ gone: Set<Upstream>, routes: CompiledRoutes) {}

  private func sendGoAway() {
    guard !goingAway, let context else { return }
    goingAway = true
    context.writeAndFlush(
      wrapOutboundOut(
        HTTP2Frame(
          streamID: .rootStream,
          payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))),
      promise: nil)
  }

  // MARK: frames and events in

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    switch frame.payload {
    case .headers(let headers):
      if let stream = streams[frame.streamID] {
        touch(stream)
        stream.trailers(headers)
      } else {
        open(frame.streamID, headers)
      }
    case .data(let data):
      guard let stream = streams[frame.streamID] else { return }
      touch(stream)
      stream.data(data)
    case .rstStream:
      streams[frame.streamID]?.finish()
    default:
      // SETTINGS, PING, PRIORITY, WINDOW_UPDATE, GOAWAY: the codec's.
      break
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    for stream in readInTurn {
      stream.readInTurn = false
      if !stream.finished { stream.proxy.clientReadComplete() }
    }
    readInTurn.removeAll(keepingCapacity: true)
    context.fireChannelReadComplete()
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let closed = event as? StreamClosedEvent {
      streams[closed.streamID]?.finish()
    } else if let window = event as? NIOHTTP2WindowUpdatedEvent, let size = window.inboundWindowSize
    {
      if window.streamID == .rootStream {
        if let increment = connectionWindow.reported(size) {
          write(
            HTTP2Frame(
              streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment)))
          flushSoon()
        }
      } else {
        streams[window.streamID]?.windowReported(size)
      }
    }
    context.fireUserInboundEventTriggered(event)
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    for stream in streams.values { stream.proxy.clientWritabilityChanged() }
    context.fireChannelWritabilityChanged()
  }

  func channelInactive(context: ChannelHandlerContext) {
    closeAll()
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // A stream's error has reset that stream, a connection's error sent GOAWAY (the codec
    // did both); either way the events that follow close what is affected.
    context.fireErrorCaught(error)
  }

  // MARK: for the streams

  func write(_ frame: HTTP2Frame) {
    context?.write(wrapOutboundOut(frame), promise: nil)
  }

  /// Writes `frame`; `passedOn` runs once the codec has passed it on (or dropped it).
  func write(_ frame: HTTP2Frame, passedOn: @escaping () -> Void) {
    guard let context else { return }
    let promise = context.eventLoop.makePromise(of: Void.self)
    promise.futureResult.assumeIsolated().whenComplete { _ in passedOn() }
    context.write(wrapOutboundOut(frame), promise: promise)
  }

  /// A flush at the end of this turn of the loop.
  func flushSoon() {
    needsFlush = true
    scheduleTick()
  }

  /// A closed stream's proxy is told at the end of this turn, and the stream forgotten now.
  func retire(_ stream: HTTP2ProxyStream) {
    streams[stream.id] = nil
    if streams.isEmpty { idleSince = loop.now }
    retiring.append(stream)
    scheduleTick()
  }

  // MARK: private

  private func open(_ id: HTTP2StreamID, _ headers: HTTP2Frame.FramePayload.Headers) {
    lastStreamID = max(lastStreamID, id)
    let proxy = ProxyHandler(loop: loop, routes: routes, listener: listener, secure: true)
    proxy.clientIP = clientIP
    proxy.memo = memo
    proxy.routed = true
    proxy.forwardedTail = forwardedTail
    let stream = HTTP2ProxyStream(id: id, connection: self, proxy: proxy, window: windowTarget)
    streams[id] = stream
    proxy.start(.stream(stream))
    touch(stream)
    stream.opened(headers)
    if let routed = proxy.memo { memo = routed }
    if forwardedTail == nil { forwardedTail = proxy.forwardedTail }
  }

  private func touch(_ stream: HTTP2ProxyStream) {
    guard !stream.readInTurn else { return }
    stream.readInTurn = true
    readInTurn.append(stream)
  }

  private func scheduleTick() {
    guard !tickScheduled, let context else { return }
    tickScheduled = true
    context.eventLoop.assumeIsolated().execute { self.tick() }
  }

  private func tick() {
    tickScheduled = false
    let done = retiring
    retiring.removeAll(keepingCapacity: true)
    for stream in done {
      stream.proxy.clientClosed()
      stream.proxy.stop()
    }
    if needsFlush {
      needsFlush = false
      context?.flush()
    }
  }

  /// The connection is gone: every stream with it, told at once.
  private func closeAll() {
    for stream in Array(streams.values) { stream.finish() }
    tick()
  }
}
