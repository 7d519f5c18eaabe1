import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable
import SchedModel

/// Answers the router writes itself (errors, refusals), and the client connection's reads paused and resumed.
extension ProxyHandler {
  func fail(_ status: HTTPResponseStatus, _ message: String) {
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
  func respond(
    _ status: HTTPResponseStatus, _ message: String, request: MessageHead?, close: Bool
  ) {
    let hasBody = request.map { $0.framing != .none } ?? false
    let close =
      close || hasBody || !(request?.keepAlive ?? false) || request?.minorVersion == 0
    answer(status, message, close: close, includeBody: request?.method != .head)
  }

  func answer(
    _ status: HTTPResponseStatus, _ message: String, close: Bool, includeBody: Bool
  ) {
    if close { closing = true }
    write(
      HeadWriter.answer(
        status: Int(status.code), reason: status.reasonPhrase, message: message, close: close,
        includeBody: includeBody), thenClose: close)
    if let context, readPaused, !close { resumeReading(context) }
  }

  func write(_ bytes: ByteBuffer, thenClose: Bool) {
    guard let context else { return }
    if thenClose {
      context.writeAndFlush(wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
        context.close(promise: nil)
      }
    } else {
      context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }
  }

  func pauseReading(_ context: ChannelHandlerContext) {
    guard !readPaused else { return }
    readPaused = true
    _ = try? context.channel.syncOptions?.setOption(.autoRead, value: false)
  }

  func resumeReading(_ context: ChannelHandlerContext) {
    guard readPaused else { return }
    readPaused = false
    _ = try? context.channel.syncOptions?.setOption(.autoRead, value: true)
    context.read()
  }
}
