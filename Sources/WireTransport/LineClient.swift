import NIOCore
import NIOPosix

/// Dials a line server.
public enum LineClient {
  /// Connects, runs `body` with the connection, and closes it when `body` returns or throws.
  /// `handlers` adds channel handlers that see each line on the event loop before `body` does
  /// (for messages answered without a task hop).
  /// With `tls`, the handshake (and the check of the scheduler's certificate) completes
  /// before `body` runs.
  public static func withConnection<T: Sendable>(
    host: String, port: Int, maxLineBytes: Int, connectTimeout: Duration = .seconds(5),
    tls: ClientTLS? = nil,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    handlers: @escaping @Sendable (any Channel) throws -> Void = { _ in },
    _ body: @Sendable (LineConnection) async throws -> T
  ) async throws -> T {
    let channel: NIOAsyncChannel<LineFrame, ByteBuffer>
    let handshake: EventLoopFuture<Void>?
    let failure = TLSFailure()
    do {
      (channel, handshake) = try await ClientBootstrap(group: group)
        .connectTimeout(.milliseconds(connectTimeout.components.seconds * 1000))
        .channelOption(.socketOption(.so_keepalive), value: 1)
        // Lines are small and answered: no Nagle delay on a prepare, an ack or a commit.
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connect(host: host, port: port) { child in
          child.eventLoop.makeCompletedFuture {
            let handshake = try tls.map { try child.addClientTLS($0, failure: failure) }
            return (
              try child.addLineHandlers(maxLineBytes: maxLineBytes, extra: handlers), handshake
            )
          }
        }
    } catch {
      throw TransportError(
        .connect, "cannot connect to \(host):\(port): \(TransportError.reason(error))")
    }
    return try await channel.executeThenClose { inbound, outbound in
      try await Self.awaitHandshake(handshake, failure: failure, host: host, port: port)
      return try await body(
        LineConnection(channel: channel.channel, inbound: inbound, outbound: outbound))
    }
  }

  /// Waits for the TLS handshake, when there is one; its failure says why in words a user can
  /// act on. Called inside `executeThenClose`, so a failed handshake still closes cleanly.
  static func awaitHandshake(
    _ handshake: EventLoopFuture<Void>?, failure: TLSFailure, host: String, port: Int
  ) async throws {
    guard let handshake else { return }
    do { try await handshake.get() } catch {
      throw TransportError.handshake(error, failure: failure, host: host, port: port)
    }
  }
}
