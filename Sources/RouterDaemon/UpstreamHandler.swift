import NIOCore
import NIOHTTP1
import RouteTable

/// What an upstream connection tells the exchange it is serving. Called on the event loop that
/// owns both connections.
protocol UpstreamDelegate: AnyObject {
  func upstreamRead(_ part: HTTPClientResponsePart, from connection: UpstreamHandler)
  func upstreamReadComplete(_ connection: UpstreamHandler)
  func upstreamWritabilityChanged(_ connection: UpstreamHandler)
  func upstreamClosed(_ connection: UpstreamHandler)
}

/// The last handler of a connection to one upstream slot. Between requests it sits in its loop's
/// pool with no delegate; anything the upstream says then closes it.
final class UpstreamHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPClientResponsePart
  typealias OutboundOut = HTTPClientRequestPart

  let upstream: Upstream
  weak var delegate: (any UpstreamDelegate)?
  /// Told when the connection closes while pooled, so the pool forgets it.
  var onIdleClose: ((UpstreamHandler) -> Void)?
  var idleSince: NIODeadline = .now()
  /// Requests this connection has carried.
  var uses = 0
  private var context: ChannelHandlerContext?
  private(set) var isOpen = true

  init(upstream: Upstream) { self.upstream = upstream }

  func handlerAdded(context: ChannelHandlerContext) { self.context = context }

  var isWritable: Bool { context?.channel.isWritable ?? false }

  func write(_ part: HTTPClientRequestPart) {
    context?.write(wrapOutboundOut(part), promise: nil)
  }

  func flush() { context?.flush() }

  private var reading = true

  /// Pauses or resumes reading from the upstream; a no-op when nothing changes.
  func setAutoRead(_ on: Bool) {
    guard on != reading else { return }
    reading = on
    _ = try? context?.channel.syncOptions?.setOption(.autoRead, value: on)
  }

  func close() {
    guard isOpen else { return }
    isOpen = false
    context?.close(promise: nil)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let part = unwrapInboundIn(data)
    if let delegate {
      delegate.upstreamRead(part, from: self)
    } else {
      // An idle connection has nothing to say; if it speaks, it is out of step. Drop it.
      close()
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    delegate?.upstreamReadComplete(self)
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    delegate?.upstreamWritabilityChanged(self)
    context.fireChannelWritabilityChanged()
  }

  func channelInactive(context: ChannelHandlerContext) {
    isOpen = false
    if let delegate {
      self.delegate = nil
      delegate.upstreamClosed(self)
    } else {
      onIdleClose?(self)
    }
    onIdleClose = nil
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    close()
  }
}
