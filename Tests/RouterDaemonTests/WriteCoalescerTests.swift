import NIOCore
import NIOEmbedded
import Testing

@testable import RouterDaemon

@Suite("the writes of one flush reach TLS as one")
struct WriteCoalescerTests {
  /// What reached the channel: each write's text, in order.
  func written(_ channel: EmbeddedChannel) throws -> [String] {
    var out: [String] = []
    while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
      out.append(String(buffer: buffer))
    }
    return out
  }

  @Test("small writes are gathered until the flush; their promises complete with the one write")
  func gathers() throws {
    let channel = EmbeddedChannel(handler: WriteCoalescer())
    defer { _ = try? channel.finish() }
    let promise = channel.eventLoop.makePromise(of: Void.self)
    channel.write(ByteBuffer(string: "frame-header|"), promise: nil)
    channel.write(ByteBuffer(string: "headers|"), promise: promise)
    channel.write(ByteBuffer(string: "data"), promise: nil)
    #expect(try written(channel).isEmpty)
    channel.flush()
    #expect(try written(channel) == ["frame-header|headers|data"])
    var done = false
    promise.futureResult.whenSuccess { done = true }
    #expect(done)
  }

  @Test(
    "a large write passes as it is, after what was gathered before it; a full buffer goes at once")
  func largeAndFull() throws {
    let channel = EmbeddedChannel(handler: WriteCoalescer())
    defer { _ = try? channel.finish() }
    let large = String(repeating: "x", count: WriteCoalescer.copyLimit)
    channel.write(ByteBuffer(string: "head|"), promise: nil)
    channel.write(ByteBuffer(string: large), promise: nil)
    channel.write(ByteBuffer(string: "tail"), promise: nil)
    channel.flush()
    #expect(try written(channel) == ["head|", large, "tail"])
    // Below the copy limit each, past the gathering limit together: the gathered buffer goes
    // out when full, not as one ever-growing buffer at the flush.
    let piece = String(repeating: "y", count: WriteCoalescer.copyLimit - 1)
    let filling = WriteCoalescer.limit / piece.utf8.count + 1
    for _ in 0...filling { channel.write(ByteBuffer(string: piece), promise: nil) }
    channel.flush()
    let sizes = try written(channel).map(\.utf8.count)
    #expect(sizes == [filling * piece.utf8.count, piece.utf8.count])
  }
}
