import HTTPFraming
import NIOCore
import RouteTable

/// What an upstream connection tells the exchange it is serving. Called on the event loop that
/// owns both connections.
protocol UpstreamDelegate: AnyObject {
  func upstreamRead(_ bytes: ByteBuffer, from connection: UpstreamHandler)
  func upstreamReadComplete(_ connection: UpstreamHandler)
  func upstreamWritabilityChanged(_ connection: UpstreamHandler)
  func upstreamClosed(_ connection: UpstreamHandler)
}

/// The last handler of a connection to one upstream slot. Between requests it sits in its loop's
/// pool with no delegate; anything the upstream says then closes it.
final class UpstreamHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  let upstream: Upstream
  weak var delegate: (any UpstreamDelegate)?
  /// The loop whose pool keeps this connection between requests; told when it closes there.
  weak var pool: LoopContext?
  /// In the pool now.
  var pooled = false
  /// The pool's list for this connection's address, once it was pooled.
  var idleList: IdleList?
  var idleSince: NIODeadline = .now()
  /// Requests this connection has carried.
  var uses = 0
  private var context: ChannelHandlerContext?
  /// The connection when it runs on the router's own loop instead of a channel.
  private var socket: LoopSocket?
  /// Told once when the connection closes (the loop's count of open connections).
  var whenClosed: (() -> Void)?
  private(set) var isOpen = true

  init(upstream: Upstream) { self.upstream = upstream }

  /// A connection on an `EpollLoop`: the socket's events come here as a channel's would.
  init(upstream: Upstream, socket: LoopSocket) {
    self.upstream = upstream
    self.socket = socket
    socket.owner = self
  }

  private var cachedStamps: ByteBuffer?
  private var cachedFields: [(String, String)] = []
  private var stampedDeployment = ""
  private var stampedImage = ""

  /// The `x-turnout-*` field lines for answers from this slot in `set`, built once per
  /// connection rather than per response. The image is the digest the slot runs; the set's
  /// reference only when its agent did not report one.
  func stamps(for set: RouteSet) -> ByteBuffer {
    restamp(for: set)
    return cachedStamps!
  }

  /// The same stamps as name and value pairs, for HTTP/2 answers.
  func stampFields(for set: RouteSet) -> [(String, String)] {
    restamp(for: set)
    return cachedFields
  }

  /// Builds both forms of the stamps again when the set's deployment or the image changed.
  private func restamp(for set: RouteSet) {
    let image = upstream.image ?? set.image
    if cachedStamps != nil, set.deployment == stampedDeployment, image == stampedImage {
      return
    }
    stampedDeployment = set.deployment
    stampedImage = image
    let slot = upstream.slot.description
    let color = set.color.rawValue
    cachedFields = HeadWriter.stampFields(
      color: color, slot: slot, image: image, deployment: set.deployment)
    cachedStamps = HeadWriter.stamps(
      color: color, slot: slot, image: image, deployment: set.deployment)
  }

  func handlerAdded(context: ChannelHandlerContext) { self.context = context }

  var isWritable: Bool { socket?.isWritable ?? context?.channel.isWritable ?? false }

  /// Bytes went to the slot since the last flush.
  private var unflushed = false

  func write(_ bytes: ByteBuffer) {
    if let socket {
      socket.write(bytes)
    } else {
      context?.write(wrapOutboundOut(bytes), promise: nil)
    }
    unflushed = true
  }

  func flush() {
    unflushed = false
    if let socket { socket.flush() } else { context?.flush() }
  }

  /// Flushes only when something was written since the last flush.
  func flushIfNeeded() {
    if unflushed { flush() }
  }

  /// Reads from the upstream are on (off while the client cannot take more).
  private(set) var reading = true

  /// Pauses or resumes reading from the upstream; a no-op when nothing changes.
  func setAutoRead(_ on: Bool) {
    guard on != reading else { return }
    reading = on
    if let socket {
      socket.setReading(on)
    } else {
      _ = try? context?.channel.syncOptions?.setOption(.autoRead, value: on)
    }
  }

  func close() {
    guard isOpen else { return }
    isOpen = false
    if let socket { socket.close() } else { context?.close(promise: nil) }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    received(unwrapInboundIn(data))
  }

  private func received(_ bytes: ByteBuffer) {
    if let delegate {
      delegate.upstreamRead(bytes, from: self)
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
    closed()
  }

  private func closed() {
    isOpen = false
    if let whenClosed {
      self.whenClosed = nil
      whenClosed()
    }
    if let delegate {
      self.delegate = nil
      delegate.upstreamClosed(self)
    } else if pooled {
      pooled = false
      pool?.forget(self)
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    close()
  }
}

extension UpstreamHandler: LoopSocketOwner {
  func socketRead(_ bytes: ByteBuffer) { received(bytes) }
  func socketReadComplete() { delegate?.upstreamReadComplete(self) }
  func socketWritabilityChanged() { delegate?.upstreamWritabilityChanged(self) }
  func socketClosed() { closed() }
}
