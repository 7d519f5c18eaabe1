import NIOCore

/// What the line decoder hands up: a complete line (newline removed), or word that the peer sent
/// more than the limit without a newline. After `tooLong` the decoder drops everything else.
public enum LineFrame: Sendable, Equatable {
  case line(ByteBuffer)
  case tooLong
  /// Raw bytes that a line announced (`put_blob`'s blob), in pieces as they arrive.
  case bytes(ByteBuffer)
}

/// Splits a byte stream on `\n` (a `\r` before it is dropped too) with a bound on line length,
/// which swift-nio-extras' `LineBasedFrameDecoder` does not have.
public struct LineFrameDecoder: ByteToMessageDecoder {
  public typealias InboundOut = LineFrame

  public let maxLineBytes: Int
  /// Asked of every line: how many raw bytes follow it (nil or 0: the next line does).
  public let rawLength: (@Sendable (ByteBufferView) -> Int64?)?
  private var scanned = 0
  private var discarding = false
  private var rawLeft: Int64 = 0

  public init(maxLineBytes: Int, rawLength: (@Sendable (ByteBufferView) -> Int64?)? = nil) {
    self.maxLineBytes = maxLineBytes
    self.rawLength = rawLength
  }

  public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws
    -> DecodingState
  {
    guard let frame = nextFrame(&buffer) else { return .needMoreData }
    context.fireChannelRead(Self.wrapInboundOut(frame))
    return .continue
  }

  public mutating func decodeLast(
    context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
  ) throws -> DecodingState {
    // A last line without its newline is not a complete message: it is dropped.
    try decode(context: context, buffer: &buffer)
  }

  /// The pure part, also used by tests that feed bytes in any split.
  public mutating func nextFrame(_ buffer: inout ByteBuffer) -> LineFrame? {
    if discarding {
      buffer.moveReaderIndex(to: buffer.writerIndex)
      return nil
    }
    if rawLeft > 0 {
      guard buffer.readableBytes > 0 else { return nil }
      let take = Int(min(Int64(buffer.readableBytes), rawLeft))
      rawLeft -= Int64(take)
      return .bytes(buffer.readSlice(length: take)!)
    }
    let view = buffer.readableBytesView
    let start = view.startIndex + scanned
    if let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
      let length = newline - view.startIndex
      let hasCR = length > 0 && view[newline - 1] == UInt8(ascii: "\r")
      scanned = 0
      if length - (hasCR ? 1 : 0) > maxLineBytes {
        return startDiscarding(&buffer)
      }
      let line = buffer.readSlice(length: length - (hasCR ? 1 : 0))!
      buffer.moveReaderIndex(forwardBy: hasCR ? 2 : 1)
      if let rawLength, let raw = rawLength(line.readableBytesView), raw > 0 { rawLeft = raw }
      return .line(line)
    }
    if view.count > maxLineBytes + 1 {
      return startDiscarding(&buffer)
    }
    scanned = view.count
    return nil
  }

  private mutating func startDiscarding(_ buffer: inout ByteBuffer) -> LineFrame {
    discarding = true
    buffer.moveReaderIndex(to: buffer.writerIndex)
    return .tooLong
  }
}
