import SchedWire
import Synchronization
import WireTransport

/// One router's open connection. Frames to it go through one outbox, so they arrive in the
/// order they were sent (an install before the drain that follows it). Reference identity tells
/// the current connection of a router name from an older one.
final class RouterSession: Sendable {
  let connection: LineConnection
  let name: String
  private let wasReplaced = Atomic<Bool>(false)
  private let outbox: AsyncStream<Frame>.Continuation

  init(name: String, connection: LineConnection) {
    self.name = name
    self.connection = connection
    let (frames, outbox) = AsyncStream.makeStream(of: Frame.self)
    self.outbox = outbox
    Task {
      for await frame in frames {
        do { try await connection.send(frame) } catch { break }
      }
    }
  }

  var peer: String { connection.peer }

  /// Queues `frame`; frames leave in order.
  func send(_ frame: Frame) { outbox.yield(frame) }

  /// The connection ended: stop the outbox.
  func closed() { outbox.finish() }

  func replaced() {
    wasReplaced.store(true, ordering: .relaxed)
    outbox.finish()
    connection.close()
  }

  var isReplaced: Bool { wasReplaced.load(ordering: .relaxed) }
}
