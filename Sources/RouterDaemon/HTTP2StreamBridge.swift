import NIOCore
import NIOHTTP2

/// Sits between one HTTP/2 stream and a `ProxyHandler` of its own: the stream's request goes
/// in as HTTP/1.1 bytes, the handler's HTTP/1.1 answer comes out as the stream's HEADERS and
/// DATA frames. Everything the proxy does for a request (the route, the slot, the pooled
/// keep-alive connection, the counts) is what it does over HTTP/1.1.
final class HTTP2StreamBridge: ChannelDuplexHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias InboundOut = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = HTTP2Frame.FramePayload

  private var request = HTTP2RequestTranslator()
  private var response = HTTP1ResponseTranslator()
  private var headSeen = false
  private var requestEnded = false

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .headers(let headers) where !headSeen:
      headSeen = true
      do {
        let bytes = try request.head(headers.headers, endStream: headers.endStream)
        response.requestIsHead = request.isHead
        requestEnded = headers.endStream
        context.fireChannelRead(wrapInboundOut(bytes))
      } catch {
        // A malformed request: the stream is reset (PROTOCOL_ERROR is the codec's to send).
        context.close(promise: nil)
      }
    case .headers(let trailers):
      requestEnded = requestEnded || trailers.endStream
      context.fireChannelRead(wrapInboundOut(request.trailers()))
    case .data(let data):
      requestEnded = requestEnded || data.endStream
      guard case .byteBuffer(let bytes) = data.data else {
        context.close(promise: nil)
        return
      }
      context.fireChannelRead(wrapInboundOut(request.data(bytes, endStream: data.endStream)))
    default:
      break
    }
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let parts: [HTTP1ResponseTranslator.Part]
    do { parts = try response.feed(unwrapOutboundIn(data)) } catch {
      promise?.fail(error)
      context.close(promise: nil)
      return
    }
    guard let last = parts.indices.last else {
      promise?.succeed(())
      return
    }
    for (index, part) in parts.enumerated() {
      context.write(wrapOutboundOut(Self.payload(part)), promise: index == last ? promise : nil)
    }
  }

  /// The proxy closes its side: a body read until close ends with it; an answer given whole
  /// leaves the stream to close by itself once flushed; anything else resets the stream.
  func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
    if let end = response.closed() {
      context.writeAndFlush(wrapOutboundOut(Self.payload(end)), promise: promise)
      return
    }
    if response.ended, requestEnded {
      context.flush()
      promise?.succeed(())
      return
    }
    context.close(mode: mode, promise: promise)
  }

  static func payload(_ part: HTTP1ResponseTranslator.Part) -> HTTP2Frame.FramePayload {
    switch part {
    case .head(let headers, let endStream):
      .headers(.init(headers: headers, endStream: endStream))
    case .data(let bytes, let endStream):
      .data(.init(data: .byteBuffer(bytes), endStream: endStream))
    }
  }
}

/// Under the HTTP/2 handler of a connection: the flushes of its streams during one turn of the
/// event loop become one flush at the end of that turn, so the answers of many streams go out
/// in one TLS write instead of one each.
final class FlushCoalescer: ChannelOutboundHandler {
  typealias OutboundIn = Any

  private var scheduled = false

  func flush(context: ChannelHandlerContext) {
    guard !scheduled else { return }
    scheduled = true
    let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    context.eventLoop.execute {
      let (this, context) = bound.value
      this.scheduled = false
      context.flush()
    }
  }
}
