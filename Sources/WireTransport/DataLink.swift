import NIOCore
import NIOPosix
import SchedModel
import SchedWire
import Synchronization

/// A data connection to the scheduler's cluster port, as an agent opens one for blobs: dial,
/// `hello`, `welcome` (of this node's cluster), then lines and raw bytes either way. A
/// connection quiet for `idleTimeout` is closed, so a stalled transfer throws `broken`.
public final class DataLink {
  static let maxHeaderBytes = 64 << 10

  private var reader: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
  private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  private var pending = ByteBuffer()
  private let lastRead: LastRead

  private init(
    inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
    outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, lastRead: LastRead
  ) {
    reader = inbound.makeAsyncIterator()
    self.outbound = outbound
    self.lastRead = lastRead
  }

  /// Opens a link, says hello, checks the welcome, runs `body`, and closes.
  public static func with<T>(
    host: String, port: Int, hello: Hello, expectCluster: String?,
    idleTimeout: Duration = .seconds(20), connectTimeout: Duration = .seconds(5),
    tls: ClientTLS? = nil,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    _ body: (DataLink) async throws -> T
  ) async throws -> T {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    let handshake: EventLoopFuture<Void>?
    let failure = TLSFailure()
    do {
      (channel, handshake) = try await ClientBootstrap(group: group)
        .connectTimeout(.milliseconds(connectTimeout.components.seconds * 1000))
        .channelOption(.socketOption(.so_keepalive), value: 1)
        .connect(host: host, port: port) { child in
          child.eventLoop.makeCompletedFuture {
            let handshake = try tls.map { try child.addClientTLS($0, failure: failure) }
            return (
              try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child),
              handshake
            )
          }
        }
    } catch {
      throw TransportError(
        .connect, "cannot connect to \(host):\(port): \(TransportError.reason(error))")
    }
    let lastRead = LastRead()
    let watchdog = Task { [underlying = channel.channel] in
      while !Task.isCancelled {
        try await Task.sleep(for: .seconds(1))
        if ContinuousClock.now - lastRead.at.withLock({ $0 }) > idleTimeout {
          underlying.close(promise: nil)
          return
        }
      }
    }
    defer { watchdog.cancel() }
    return try await channel.executeThenClose { inbound, outbound in
      try await LineClient.awaitHandshake(handshake, failure: failure, host: host, port: port)
      let link = DataLink(inbound: inbound, outbound: outbound, lastRead: lastRead)
      try await link.send(Frame(id: "hello", .hello(hello)))
      let welcome = try await link.nextFrame()
      guard case .welcome(let accepted) = welcome.message else {
        throw link.refused(welcome, "welcome")
      }
      if let expectCluster, let cluster = accepted.cluster, cluster != expectCluster {
        throw TransportError(
          .refused, "the scheduler serves cluster \(cluster), not this node's \(expectCluster)")
      }
      return try await body(link)
    }
  }

  public func send(_ frame: Frame) async throws {
    try await outbound.write(ByteBuffer(bytes: LineCodec.encodeLine(frame)))
  }

  /// Raw bytes after a line (a blob's), waiting on back-pressure.
  public func sendBytes(_ buffer: ByteBuffer) async throws {
    lastRead.at.withLock { $0 = .now }
    try await outbound.write(buffer)
  }

  /// The next line, decoded.
  public func nextFrame() async throws -> Frame {
    while true {
      if let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
        let line = pending.readSlice(length: newline - pending.readerIndex)!
        pending.moveReaderIndex(forwardBy: 1)
        switch LineCodec.decode(line.readableBytesView) {
        case .success(let frame): return frame
        case .failure(let error):
          throw TransportError(.refused, "the scheduler sent a bad line: \(error.reply.message)")
        }
      }
      guard pending.readableBytes < Self.maxHeaderBytes else {
        throw TransportError(.refused, "the scheduler sent a line over 64 KiB")
      }
      guard var more = try await read() else {
        throw TransportError(.broken, "the scheduler closed the data connection")
      }
      pending.writeBuffer(&more)
    }
  }

  /// Up to `limit` raw bytes that follow a line; nil when the connection closed.
  public func nextBytes(limit: Int64) async throws -> ByteBuffer? {
    if pending.readableBytes == 0 {
      guard let more = try await read() else { return nil }
      pending = more
    }
    let take = Int(min(Int64(pending.readableBytes), limit))
    return pending.readSlice(length: take)
  }

  private func read() async throws -> ByteBuffer? {
    let piece = try await reader.next()
    if piece != nil { lastRead.at.withLock { $0 = .now } }
    return piece
  }

  /// The error for an answer that is not `what`: the scheduler's own message when it sent one.
  public func refused(_ frame: Frame, _ what: String) -> TransportError {
    if case .error(let reply) = frame.message {
      return TransportError(.refused, reply.message)
    }
    return TransportError(.refused, "expected \(what), got \(frame.message.type.rawValue)")
  }
}

/// When the data connection last moved bytes, for its idle watchdog.
final class LastRead: Sendable {
  let at = Mutex(ContinuousClock.now)
}
