import NIOCore

/// Between TLS and the HTTP/2 codec: the small writes of one flush (every frame header,
/// HEADERS block and small DATA payload, three or more per answer) are copied into one buffer,
/// so TLS seals one record for all of them instead of one record each. swift-nio-ssl seals
/// every write it is given as a record of its own; under HTTP/2 load that was a third of the
/// TLS cost per request. Large writes (a body's DATA) pass as they are, after what was
/// gathered before them, and a gathered buffer past `limit` goes out without waiting for the
/// flush, so nothing grows without bound.
final class WriteCoalescer: ChannelOutboundHandler {
  typealias OutboundIn = IOData
  typealias OutboundOut = IOData

  /// Writes this large or larger are not copied.
  static let copyLimit = 4 * 1024
  /// A gathered buffer this large is written at once.
  static let limit = 32 * 1024

  private var gathered: ByteBuffer?
  private var promises: [EventLoopPromise<Void>] = []

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    guard case .byteBuffer(var bytes) = unwrapOutboundIn(data),
      bytes.readableBytes < Self.copyLimit
    else {
      emit(context)
      context.write(data, promise: promise)
      return
    }
    if gathered == nil {
      gathered = context.channel.allocator.buffer(capacity: 2048)
    }
    gathered!.writeBuffer(&bytes)
    if let promise { promises.append(promise) }
    if gathered!.readableBytes >= Self.limit { emit(context) }
  }

  func flush(context: ChannelHandlerContext) {
    emit(context)
    context.flush()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    // What was gathered and never flushed is dropped with the connection.
    gathered = nil
    let dropped = promises
    promises = []
    for promise in dropped { promise.fail(ChannelError.ioOnClosedChannel) }
  }

  /// Writes what was gathered, as one buffer.
  private func emit(_ context: ChannelHandlerContext) {
    guard let bytes = gathered else { return }
    gathered = nil
    var promise: EventLoopPromise<Void>?
    if !promises.isEmpty {
      let waiting = promises
      promises = []
      let combined = context.eventLoop.makePromise(of: Void.self)
      combined.futureResult.assumeIsolated().whenComplete { result in
        for waiter in waiting { waiter.completeWith(result) }
      }
      promise = combined
    }
    context.write(wrapOutboundOut(.byteBuffer(bytes)), promise: promise)
  }
}
