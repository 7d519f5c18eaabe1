import Logging
import NIOCore
import NIOPosix

/// A TCP server for JSON lines: each connection runs in its own child task, and an error in one
/// never reaches another. Stopping it (cancelling `run`) closes every connection, also those
/// accepted in the same instant (see `AsyncListener`).
public final class LineServer: Sendable {
  private let listener: AsyncListener<LineFrame, ByteBuffer>
  /// The port actually bound (useful when asked for port 0).
  public var port: Int { listener.port }
  public let host: String

  private init(listener: AsyncListener<LineFrame, ByteBuffer>, host: String) {
    self.listener = listener
    self.host = host
  }

  /// Binds the listening socket. Nothing is accepted until `run`. With `tls`, every
  /// connection is TLS; one that starts in plain text is answered in plain text and closed.
  /// `handlers` adds handlers to each connection between the line decoder and the connection's
  /// task: they see every `LineFrame` on the event loop first.
  public static func bind(
    host: String, port: Int, maxLineBytes: Int,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    rawLength: (@Sendable (ByteBufferView) -> Int64?)? = nil, tls: ServerTLS? = nil,
    handlers: @escaping @Sendable (any Channel) throws -> Void = { _ in }
  ) async throws(TransportError) -> LineServer {
    do {
      let listener = try await AsyncListener<LineFrame, ByteBuffer>.bind(
        host: host, port: port, group: group
      ) { child in
        if let tls {
          try child.pipeline.syncOperations.addHandler(PlainTextGuard())
          try child.pipeline.syncOperations.addHandler(tls.makeHandler())
        }
        try child.addLineDecoder(maxLineBytes: maxLineBytes, rawLength: rawLength, extra: handlers)
      }
      return LineServer(listener: listener, host: host)
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
    try await listener.run(failed: { logger.debug("connection ended: \($0)") }) {
      connection, lines, outbound in
      await handler(LineConnection(channel: connection.channel, inbound: lines, outbound: outbound))
    }
  }
}
