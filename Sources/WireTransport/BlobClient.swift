import NIOCore
import NIOPosix
import SchedModel
import SchedWire
import Synchronization

/// Fetches one blob of the scheduler's image store on a data connection of its own: dial,
/// `hello`, `fetch_blob`, then the `blob` line and the raw bytes after it. A transfer that
/// breaks off or goes quiet for `idleTimeout` throws `broken`; the caller resumes from the
/// bytes it kept.
public enum BlobClient {
  static let maxHeaderBytes = 64 << 10

  /// Hands each piece of the blob to `sink` in order; returns the blob's header.
  public static func fetch(
    host: String, port: Int, hello: Hello, digest: ContentDigest, offset: Int64,
    expectCluster: String? = nil, idleTimeout: Duration = .seconds(20),
    connectTimeout: Duration = .seconds(5),
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    sink: (ByteBuffer) throws -> Void
  ) async throws -> BlobHeader {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    do {
      channel = try await ClientBootstrap(group: group)
        .connectTimeout(.milliseconds(connectTimeout.components.seconds * 1000))
        .channelOption(.socketOption(.so_keepalive), value: 1)
        .connect(host: host, port: port) { child in
          child.eventLoop.makeCompletedFuture {
            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
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
      var reader = inbound.makeAsyncIterator()
      var pending = ByteBuffer()
      func nextLine() async throws -> Frame {
        while true {
          if let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - pending.readerIndex
            let line = pending.readSlice(length: length)!
            pending.moveReaderIndex(forwardBy: 1)
            switch LineCodec.decode(line.readableBytesView) {
            case .success(let frame): return frame
            case .failure(let error):
              throw TransportError(
                .refused, "the scheduler sent a bad line: \(error.reply.message)")
            }
          }
          guard pending.readableBytes < maxHeaderBytes else {
            throw TransportError(.refused, "the scheduler sent a line over 64 KiB")
          }
          guard var more = try await reader.next() else {
            throw TransportError(.broken, "the scheduler closed the data connection")
          }
          lastRead.at.withLock { $0 = .now }
          pending.writeBuffer(&more)
        }
      }
      func refused(_ frame: Frame, _ what: String) -> TransportError {
        if case .error(let reply) = frame.message {
          return TransportError(.refused, reply.message)
        }
        return TransportError(.refused, "expected \(what), got \(frame.message.type.rawValue)")
      }

      try await outbound.write(
        ByteBuffer(bytes: LineCodec.encodeLine(Frame(id: "hello", .hello(hello)))))
      let welcome = try await nextLine()
      guard case .welcome(let body) = welcome.message else { throw refused(welcome, "welcome") }
      if let expectCluster, let cluster = body.cluster, cluster != expectCluster {
        throw TransportError(
          .refused, "the scheduler serves cluster \(cluster), not this node's \(expectCluster)")
      }
      try await outbound.write(
        ByteBuffer(
          bytes: LineCodec.encodeLine(
            Frame(id: "fetch", .fetchBlob(FetchBlob(digest: digest, offset: offset))))))
      let answer = try await nextLine()
      guard case .blob(let header) = answer.message else { throw refused(answer, "blob") }
      guard header.digest == digest, header.offset == offset, header.length >= 0 else {
        throw TransportError(.refused, "the scheduler answered for another blob or offset")
      }
      var left = header.length
      if pending.readableBytes > 0 {
        let take = Int(min(Int64(pending.readableBytes), left))
        try sink(pending.readSlice(length: take)!)
        left -= Int64(take)
      }
      while left > 0 {
        guard var piece = try await reader.next() else {
          throw TransportError(
            .broken,
            "the data connection closed with \(left) of \(header.length) bytes of \(digest.short) to come"
          )
        }
        lastRead.at.withLock { $0 = .now }
        let take = Int(min(Int64(piece.readableBytes), left))
        try sink(piece.readSlice(length: take)!)
        left -= Int64(take)
      }
      return header
    }
  }
}

/// When the data connection last brought bytes, for its idle watchdog.
private final class LastRead: Sendable {
  let at = Mutex(ContinuousClock.now)
}
