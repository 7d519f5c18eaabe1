import NIOCore

/// The client side of a `ProxyHandler`: where its answers go, and how its client's reads are
/// switched. Over HTTP/1.1 that is the connection's channel; over HTTP/2 one stream of a
/// connection, whose answers `HTTP2ProxyStream` turns into HEADERS and DATA frames. An enum
/// rather than a protocol: two cases, known here, with no existential on the hot path.
enum ClientEnd {
  case channel(ChannelHandlerContext)
  case stream(HTTP2ProxyStream)
  /// A plain HTTP/1.1 connection on the router's own loop.
  case socket(LoopSocket)

  /// The client can take more now (for a stream: its connection can, and the stream has not
  /// too much queued behind the peer's flow-control window).
  var isWritable: Bool {
    switch self {
    case .channel(let context): context.channel.isWritable
    case .stream(let stream): stream.isWritable
    case .socket(let socket): socket.isWritable
    }
  }

  func write(_ bytes: ByteBuffer) {
    switch self {
    case .channel(let context): context.write(NIOAny(bytes), promise: nil)
    case .stream(let stream): stream.write(bytes)
    case .socket(let socket): socket.write(bytes)
    }
  }

  func flush() {
    switch self {
    case .channel(let context): context.flush()
    case .stream(let stream): stream.flush()
    case .socket(let socket): socket.flush()
    }
  }

  /// Writes `bytes`, flushes, and closes once they are out (a stream whose answer is whole
  /// just ends with it).
  func writeThenClose(_ bytes: ByteBuffer) {
    switch self {
    case .channel(let context):
      context.writeAndFlush(NIOAny(bytes)).assumeIsolated().whenComplete { _ in
        context.close(promise: nil)
      }
    case .stream(let stream):
      stream.write(bytes)
      stream.flush()
      stream.close()
    case .socket(let socket):
      socket.write(bytes)
      socket.flushThenClose()
    }
  }

  /// Closes at once: what was not written is lost (an answer cut short).
  func close() {
    switch self {
    case .channel(let context): context.close(promise: nil)
    case .stream(let stream): stream.close()
    case .socket(let socket): socket.close()
    }
  }

  /// Switches the client's reads on or off: the socket's for a connection, the flow-control
  /// window given back for a stream.
  func setReading(_ on: Bool) {
    switch self {
    case .channel(let context):
      _ = try? context.channel.syncOptions?.setOption(.autoRead, value: on)
      if on { context.read() }
    case .stream(let stream):
      stream.setReading(on)
    case .socket(let socket):
      socket.setReading(on)
    }
  }
}
