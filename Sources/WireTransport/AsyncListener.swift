import NIOCore
import NIOPosix
import Synchronization

/// A listening TCP socket whose connections are served each in its own task as
/// `NIOAsyncChannel`s, and which can be stopped at any moment without trapping.
///
/// SwiftNIO's async `bind` drops the connections its accept stream still buffers when the
/// serving task is cancelled or the listener closes (swift-nio issues 2637 and 2813); an async
/// channel dropped so traps the process ("Deinited NIOAsyncWriter without calling finish()").
/// Here connections cross from the event loop as plain channels that read nothing yet; the
/// async channel is made only once a task owns the connection, and the plain channels SwiftNIO
/// dropped are closed as the listener stops.
public final class AsyncListener<Inbound: Sendable, Outbound: Sendable>: Sendable {
  /// One accepted connection, owned by the task that serves it.
  public typealias Connection = NIOAsyncChannel<Inbound, Outbound>

  private let serverChannel: NIOAsyncChannel<any Channel, Never>
  private let unclaimed: UnclaimedChannels
  /// The address actually bound (its port is the one picked when asked for port 0).
  public let port: Int

  /// Binds `host:port`. `configure` sets up each accepted connection's pipeline on its event
  /// loop (everything under the async channel); nothing is read until `run` hands it to a task.
  public static func bind(
    host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    backlog: Int32 = 256, configure: @escaping @Sendable (any Channel) throws -> Void
  ) async throws -> AsyncListener {
    let unclaimed = UnclaimedChannels()
    let channel = try await ServerBootstrap(group: group)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .serverChannelOption(.backlog, value: backlog)
      .childChannelOption(.socketOption(.so_keepalive), value: 1)
      .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
      .childChannelOption(.autoRead, value: false)
      .bind(host: host, port: port) { child in
        child.eventLoop.makeCompletedFuture {
          try configure(child)
          unclaimed.insert(child)
          return child as any Channel
        }
      }
    return AsyncListener(
      serverChannel: channel, unclaimed: unclaimed,
      port: channel.channel.localAddress?.port ?? port)
  }

  private init(
    serverChannel: NIOAsyncChannel<any Channel, Never>, unclaimed: UnclaimedChannels, port: Int
  ) {
    self.serverChannel = serverChannel
    self.unclaimed = unclaimed
    self.port = port
  }

  /// Accepts connections until the task is cancelled (the listener then closes), serving each in
  /// a task of its own (`ServingTasks`), cancelled with this one; returns once every one has
  /// ended. `serve` owns its connection: the
  /// listener calls `executeThenClose` around it. A connection that fails to start is closed;
  /// `failed` hears why a connection ended with an error.
  public func run(
    failed: @escaping @Sendable (any Error) -> Void = { _ in },
    _ serve:
      @escaping @Sendable (
        Connection, NIOAsyncChannelInboundStream<Inbound>, NIOAsyncChannelOutboundWriter<Outbound>
      ) async throws -> Void
  ) async throws {
    defer { unclaimed.closeAll() }
    let serving = ServingTasks()
    try await withTaskCancellationHandler {
      do {
        try await serverChannel.executeThenClose { inbound in
          for try await child in inbound {
            unclaimed.remove(child)
            serving.start {
              do {
                let connection = try await child.eventLoop.submit {
                  let connection = try Connection(wrappingChannelSynchronously: child)
                  try child.syncOptions?.setOption(.autoRead, value: true)
                  return connection
                }.get()
                try await connection.executeThenClose { inbound, outbound in
                  try await serve(connection, inbound, outbound)
                }
              } catch {
                child.close(promise: nil)
                failed(error)
              }
            }
          }
        }
      } catch {
        // As a task group would: the connections are cancelled and waited for, then the
        // error goes on.
        serving.cancelAll()
        await serving.waitForAll()
        throw error
      }
      if Task.isCancelled { serving.cancelAll() }
      await serving.waitForAll()
    } onCancel: {
      serverChannel.channel.close(promise: nil)
      serving.cancelAll()
    }
  }
}

/// The accepted channels no task owns yet. Once the listener has stopped, a channel still being
/// set up on another event loop is closed as it arrives.
private final class UnclaimedChannels: Sendable {
  private let state = Mutex<(channels: [ObjectIdentifier: any Channel], stopped: Bool)>(
    ([:], false))

  func insert(_ channel: any Channel) {
    let stopped = state.withLock { state in
      if !state.stopped { state.channels[ObjectIdentifier(channel)] = channel }
      return state.stopped
    }
    if stopped { channel.close(promise: nil) }
  }

  func remove(_ channel: any Channel) {
    _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
  }

  /// Closes every channel still unclaimed (SwiftNIO dropped it from its stream), and every one
  /// inserted from now on.
  func closeAll() {
    let left = state.withLock { state in
      defer {
        state.channels.removeAll()
        state.stopped = true
      }
      return Array(state.channels.values)
    }
    for channel in left { channel.close(promise: nil) }
  }
}
