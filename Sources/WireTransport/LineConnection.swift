import NIOCore
import SchedWire

/// One open connection carrying JSON lines, on either side.
public struct LineConnection: Sendable {
  /// Decoded lines as they arrive; ends when the peer closes.
  public let inbound: NIOAsyncChannelInboundStream<LineFrame>
  let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  let channel: any Channel

  init(
    channel: any Channel, inbound: NIOAsyncChannelInboundStream<LineFrame>,
    outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  ) {
    self.channel = channel
    self.inbound = inbound
    self.outbound = outbound
  }

  /// The pipeline's handler of type `Handler` (one added by the server's `handlers`), if any.
  public func handler<Handler: ChannelHandler & Sendable>(_ type: Handler.Type) async -> Handler? {
    try? await channel.pipeline.handler(type: type).get()
  }

  /// The peer's address, for logs.
  public var peer: String {
    guard let address = channel.remoteAddress else { return "unknown peer" }
    guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
    return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
  }

  /// Sends one frame as a line.
  public func send(_ frame: Frame) async throws {
    try await outbound.write(ByteBuffer(bytes: LineCodec.encodeLine(frame)))
  }

  /// Writes one frame as a line without waiting: the write is queued on the connection's event
  /// loop at once, so frames posted one after another from one task or actor leave in order.
  /// For latency-critical messages; `send` waits for the write and applies backpressure.
  public func post(_ frame: Frame) {
    channel.writeAndFlush(ByteBuffer(bytes: LineCodec.encodeLine(frame)), promise: nil)
  }

  /// Sends bytes as they are: for tools and tests that speak the protocol badly on purpose.
  public func sendRaw(_ bytes: [UInt8]) async throws {
    try await outbound.write(ByteBuffer(bytes: bytes))
  }

  /// Writes bytes that follow a line (a blob after its header), waiting on back-pressure.
  public func sendBytes(_ buffer: ByteBuffer) async throws {
    try await outbound.write(buffer)
  }

  /// Sends a last frame, waits until it is on the wire, and closes.
  public func sendAndClose(_ frame: Frame) async {
    let buffer = ByteBuffer(bytes: LineCodec.encodeLine(frame))
    let written = channel.eventLoop.makePromise(of: Void.self)
    channel.writeAndFlush(buffer, promise: written)
    // A peer that never finished its TLS handshake never takes the line: close anyway.
    let channel = self.channel
    let deadline = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    try? await written.futureResult.get()
    deadline.cancel()
    close()
  }

  /// Closes the connection; `inbound` ends on both sides.
  public func close() {
    channel.close(promise: nil)
  }
}

extension Channel {
  /// The pipeline every line connection uses: bounded line framing under an async channel.
  /// `extra` adds handlers between the line decoder and the async channel: they see every
  /// `LineFrame` on the event loop, before any task does.
  func addLineHandlers(
    maxLineBytes: Int, rawLength: (@Sendable (ByteBufferView) -> Int64?)? = nil,
    extra: (any Channel) throws -> Void = { _ in }
  ) throws -> NIOAsyncChannel<LineFrame, ByteBuffer> {
    try addLineDecoder(maxLineBytes: maxLineBytes, rawLength: rawLength, extra: extra)
    return try NIOAsyncChannel<LineFrame, ByteBuffer>(wrappingChannelSynchronously: self)
  }

  /// The line framing and `extra`, without the async channel on top (the server adds that once
  /// a task owns the connection).
  func addLineDecoder(
    maxLineBytes: Int, rawLength: (@Sendable (ByteBufferView) -> Int64?)?,
    extra: (any Channel) throws -> Void
  ) throws {
    try pipeline.syncOperations.addHandler(
      ByteToMessageHandler(LineFrameDecoder(maxLineBytes: maxLineBytes, rawLength: rawLength)))
    try extra(self)
  }
}
