import Logging
import NIOCore
import NIOPosix

/// A TCP server for JSON lines: each connection runs in its own child task, and an error in one
/// never reaches another.
public final class LineServer: Sendable {
  private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>
  /// The port actually bound (useful when asked for port 0).
  public let port: Int
  public let host: String

  private init(
    serverChannel: NIOAsyncChannel<NIOAsyncChannel<LineFrame, ByteBuffer>, Never>, host: String,
    port: Int
  ) {
    self.serverChannel = serverChannel
    self.host = host
    self.port = port
  }

  /// Binds the listening socket. Nothing is accepted until `run`. With `tls`, every
  /// connection is TLS; one that starts in plain text is answered in plain text and closed. `handlers` adds handlers to
  /// each connection between the line decoder and the connection's task: they see every
  /// `LineFrame` on the event loop first.
  public static func bind(
    host: String, port: Int, maxLineBytes: Int,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    rawLength: (@Sendable (ByteBufferView) -> Int64?)? = nil, tls: ServerTLS? = nil,
    handlers: @escaping @Sendable (any Channel) throws -> Void = { _ in }
  ) async throws(TransportError) -> LineServer {
    do {
      let channel = try await ServerBootstrap(group: group)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .serverChannelOption(.backlog, value: 256)
        .childChannelOption(.socketOption(.so_keepalive), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .bind(host: host, port: port) { child in
          child.eventLoop.makeCompletedFuture {
            if let tls {
              try child.pipeline.syncOperations.addHandler(PlainTextGuard())
              try child.pipeline.syncOperations.addHandler(tls.makeHandler())
            }
            return try child.addLineHandlers(
              maxLineBytes: maxLineBytes, rawLength: rawLength, extra: handlers)
          }
        }
      let bound = channel.channel.localAddress?.port ?? port
      return LineServer(serverChannel: channel, host: host, port: bound)
    } catch {
      throw TransportError(
        .bind,
        "cannot listen on \(host):\(port): \(error). Is another process using the port? Pick another with the listen flag."
      )
    }
  }

  /// Accepts connections until the task is cancelled, handing each to `handler` in a child task.
  public func run(
    logger: Logger, _ handler: @escaping @Sendable (LineConnection) async -> Void
  ) async throws {
    try await withTaskCancellationHandler {
      try await serverChannel.executeThenClose { inbound in
        try await withThrowingDiscardingTaskGroup { group in
          for try await connection in inbound {
            group.addTask {
              do {
                try await connection.executeThenClose { lines, outbound in
                  await handler(
                    LineConnection(channel: connection.channel, inbound: lines, outbound: outbound))
                }
              } catch {
                logger.debug("connection ended: \(error)")
              }
            }
          }
        }
      }
    } onCancel: {
      serverChannel.channel.close(promise: nil)
    }
  }
}
