import Synchronization
import WireTransport

/// One agent's open connection, as the cluster sees it. Reference identity tells a node's current
/// connection from an older one that has not noticed it was replaced.
final class AgentSession: Sendable {
  let connection: LineConnection
  private let wasReplaced = Atomic<Bool>(false)

  init(connection: LineConnection) {
    self.connection = connection
  }

  var peer: String { connection.peer }

  /// A newer registration of the same node took over: this connection is closed.
  func replaced() {
    wasReplaced.store(true, ordering: .relaxed)
    connection.close()
  }

  var isReplaced: Bool { wasReplaced.load(ordering: .relaxed) }
}
