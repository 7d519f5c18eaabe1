import Checks
import OperatorAPI
import SchedWire
import Synchronization
import WireTransport

/// One router's open connection. Frames to it are written straight to the connection's event
/// loop in the order the hub posts them (an install before the drain that follows it), without
/// a task hop: a switch's prepare and commit are on production's critical path. Reference
/// identity tells the current connection of a router name from an older one.
final class RouterSession: Sendable {
  let connection: LineConnection
  let name: String
  private let wasReplaced = Atomic<Bool>(false)
  private let isClosed = Atomic<Bool>(false)

  /// The router's preview listener as the scheduler reaches it, if it has one.
  let preview: String?
  /// Whether it has an HTTPS listener: only then is it sent certificates and their keys.
  let servesHTTPS: Bool

  init(
    name: String, connection: LineConnection, preview: String? = nil, servesHTTPS: Bool = false
  ) {
    self.servesHTTPS = servesHTTPS
    self.name = name
    self.connection = connection
    // A router listening on every address said only its port: it is reached at its peer's IP.
    if let preview, preview.hasPrefix(":"), let (host, _) = CheckRunner.split(connection.peer) {
      self.preview = (host.contains(":") ? "[\(host)]" : host) + preview
    } else {
      self.preview = preview
    }
  }

  var peer: String { connection.peer }

  /// Writes `frame` now; frames leave in the order they were sent.
  func send(_ frame: Frame) {
    guard !isClosed.load(ordering: .relaxed) else { return }
    connection.post(frame)
  }

  /// The connection ended: nothing more is sent.
  func closed() { isClosed.store(true, ordering: .relaxed) }

  func replaced() {
    wasReplaced.store(true, ordering: .relaxed)
    isClosed.store(true, ordering: .relaxed)
    connection.close()
  }

  var isReplaced: Bool { wasReplaced.load(ordering: .relaxed) }
}
