import HTTPFraming
import NIOCore
import NIOHTTP2

/// One HTTP/2 stream of a client connection, proxied by a `ProxyHandler` of its own as if it
/// were an HTTP/1.1 connection that carries one request: the stream's request goes to the
/// handler as HTTP/1.1 bytes, the handler's HTTP/1.1 answer comes back as HEADERS and DATA
/// frames. Everything the proxy does for a request (the route, the slot, the pooled keep-alive
/// connection, the counts) is what it does over HTTP/1.1. No channel per stream: frames go
/// through the connection's `HTTP2ProxyHandler`, on its event loop.
final class HTTP2ProxyStream {
  let id: HTTP2StreamID
  unowned let connection: HTTP2ProxyHandler
  let proxy: ProxyHandler
  private var request = HTTP2RequestTranslator()
  private var response = HTTP1ResponseTranslator()
  private var requestEnded = false
  /// The stream is closed: nothing more goes out or comes in.
  private(set) var finished = false
  /// The stream's receive window, held while the proxy has paused its reads.
  private var window: HTTP2InboundWindow
  /// DATA bytes written and not yet passed on by the codec (flow control may hold them).
  private var queued = 0
  /// `queued` went past the high watermark and has not come back below the low one.
  private var overWatermark = false
  /// Read from in the current turn of the loop (its read-complete is due).
  var readInTurn = false

  /// Bytes of queued answer past which the proxy stops reading the slot for this stream, and
  /// below which it starts again.
  static let highWatermark = 64 * 1024
  static let lowWatermark = 16 * 1024

  init(id: HTTP2StreamID, connection: HTTP2ProxyHandler, proxy: ProxyHandler, window: Int) {
    self.id = id
    self.connection = connection
    self.proxy = proxy
    self.window = HTTP2InboundWindow(target: window)
  }

  // MARK: from the client

  /// The request's HEADERS.
  func opened(_ headers: HTTP2Frame.FramePayload.Headers) {
    requestEnded = headers.endStream
    let bytes: ByteBuffer
    do { bytes = try request.head(headers.headers, endStream: headers.endStream) } catch {
      reset(.protocolError)
      return
    }
    response.requestIsHead = request.isHead
    proxy.clientRead(bytes)
  }

  /// Trailers, which end the request.
  func trailers(_ headers: HTTP2Frame.FramePayload.Headers) {
    requestEnded = true
    let bytes: ByteBuffer
    do { bytes = try request.trailers(headers.headers) } catch {
      reset(.protocolError)
      return
    }
    proxy.clientRead(bytes)
  }

  func data(_ data: HTTP2Frame.FramePayload.Data) {
    guard case .byteBuffer(let bytes) = data.data else {
      reset(.internalError)
      return
    }
    requestEnded = requestEnded || data.endStream
    let out: ByteBuffer
    do { out = try request.data(bytes, endStream: data.endStream) } catch {
      reset(.protocolError)
      return
    }
    proxy.clientRead(out)
  }

  /// The codec's report of the stream's receive window after a DATA frame.
  func windowReported(_ size: Int) {
    if let increment = window.reported(size) { giveWindow(increment) }
  }

  // MARK: to the client (the proxy's `ClientEnd`)

  var isWritable: Bool { !overWatermark && connection.isWritable }

  /// The proxy's HTTP/1.1 answer bytes, as frames.
  func write(_ bytes: ByteBuffer) {
    guard !finished else { return }
    let parts: [HTTP1ResponseTranslator.Part]
    do { parts = try response.feed(bytes) } catch {
      reset(.internalError)
      return
    }
    for part in parts where !finished { send(part) }
  }

  /// The answer's head as the proxy parsed it, with the router's fields.
  func respond(_ head: MessageHead, framing: BodyFraming, extra: [(String, String)]) {
    guard !finished else { return }
    send(response.start(head, framing: framing, extra: extra))
  }

  func flush() { connection.flushSoon() }

  /// The proxy is done with the client: a body read until close ends with it; an answer given
  /// whole leaves the stream to close by itself once sent; anything else resets the stream.
  func close() {
    guard !finished else { return }
    if let end = response.closed() {
      send(end)
      connection.flushSoon()
    } else if response.ended, requestEnded {
      connection.flushSoon()
    } else {
      // NO_ERROR: the answer is whole and the client may stop sending its body (RFC 9113
      // 8.1); CANCEL: the answer was cut short.
      reset(response.ended ? .noError : .cancel)
    }
  }

  func setReading(_ on: Bool) {
    if let increment = window.setOpen(on) { giveWindow(increment) }
  }

  // MARK: the stream's end

  /// Resets the stream and lets go of it.
  func reset(_ code: HTTP2ErrorCode) {
    guard !finished else { return }
    connection.write(HTTP2Frame(streamID: id, payload: .rstStream(code)))
    connection.flushSoon()
    finish()
  }

  /// The stream closed (ended both ways, reset by either side, or its connection went):
  /// nothing more goes out, and the proxy sees its client leave once the event in hand is
  /// carried out (the codec reports a close in the middle of the write that ended the stream,
  /// while the proxy is still finishing its exchange).
  func finish() {
    guard !finished else { return }
    finished = true
    connection.retire(self)
  }

  private func send(_ part: HTTP1ResponseTranslator.Part) {
    switch part {
    case .head(let headers, let endStream):
      connection.write(
        HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: endStream))))
    case .data(let bytes, let endStream):
      let frame = HTTP2Frame(
        streamID: id, payload: .data(.init(data: .byteBuffer(bytes), endStream: endStream)))
      let size = bytes.readableBytes
      // The last part of an answer that never queued needs no tracking: nothing follows it.
      guard size > 0, !endStream || queued > 0 else {
        connection.write(frame)
        return
      }
      queued += size
      if queued >= Self.highWatermark { overWatermark = true }
      connection.write(frame) { [self] in passedOn(size) }
    }
  }

  private func passedOn(_ size: Int) {
    queued -= size
    guard overWatermark, queued <= Self.lowWatermark else { return }
    overWatermark = false
    if !finished { proxy.clientWritabilityChanged() }
  }

  private func giveWindow(_ increment: Int) {
    guard !finished else { return }
    connection.write(
      HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: increment)))
    connection.flushSoon()
  }
}
