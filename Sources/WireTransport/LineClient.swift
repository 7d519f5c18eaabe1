import NIOCore
import NIOPosix

/// Dials a line server.
public enum LineClient {
  /// Connects, runs `body` with the connection, and closes it when `body` returns or throws.
  /// `handlers` adds channel handlers that see each line on the event loop before `body` does
  /// (for messages answered without a task hop).
  public static func withConnection<T: Sendable>(
    host: String, port: Int, maxLineBytes: Int, connectTimeout: Duration = .seconds(5),
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    handlers: @escaping @Sendable (any Channel) throws -> Void = { _ in },
    _ body: @Sendable (LineConnection) async throws -> T
  ) async throws -> T {
    let channel: NIOAsyncChannel<LineFrame, ByteBuffer>
    do {
      channel = try await ClientBootstrap(group: group)
        .connectTimeout(.milliseconds(connectTimeout.components.seconds * 1000))
        .channelOption(.socketOption(.so_keepalive), value: 1)
        // Lines are small and answered: no Nagle delay on a prepare, an ack or a commit.
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connect(host: host, port: port) { child in
          child.eventLoop.makeCompletedFuture {
            try child.addLineHandlers(maxLineBytes: maxLineBytes, extra: handlers)
          }
        }
    } catch {
      throw TransportError(
        .connect, "cannot connect to \(host):\(port): \(TransportError.reason(error))")
    }
    return try await channel.executeThenClose { inbound, outbound in
      try await body(LineConnection(channel: channel.channel, inbound: inbound, outbound: outbound))
    }
  }
}
