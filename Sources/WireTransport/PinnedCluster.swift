import ClusterPKI
import Foundation
import SchedWire
import Synchronization

/// The cluster an agent or a router belongs to: `ClusterPin`'s rule with its memory kept on disk.
/// One per process, shared by every connection it makes to the scheduler.
public final class PinnedCluster: Sendable {
  private let pin: Mutex<ClusterPin>
  private let who: String
  private let save: @Sendable (String) throws -> Void

  /// `save` writes a newly taken id down; it runs before the welcome is acted on, so a crash
  /// right after cannot forget the cluster.
  public init(
    known: String?, joinNew: Bool, who: String, save: @escaping @Sendable (String) throws -> Void
  ) {
    self.pin = Mutex(ClusterPin(known: known, joinNew: joinNew))
    self.who = who
    self.save = save
  }

  /// The cluster joined, if one was.
  public var known: String? { pin.withLock { $0.known } }

  /// nil when the scheduler that offered `cluster` may be followed; otherwise why not. A new id
  /// that cannot be saved is refused too (it would be forgotten at the next start).
  public func admit(_ cluster: String?) -> String? {
    pin.withLock { pin in
      let before = pin
      switch pin.admit(cluster, who: who) {
      case .accept(save: false): return nil
      case .accept(save: true):
        do {
          try save(pin.known!)
          return nil
        } catch {
          pin = before
          return "cannot save the cluster id \(cluster ?? ""): \(error)"
        }
      case .refuse(let reason): return reason
      }
    }
  }

  /// A pin kept in a file of its own (the agent's state directory): read at start, written
  /// atomically (write, fsync, rename) when taken.
  public static func file(_ path: String, joinNew: Bool, who: String) throws -> PinnedCluster {
    var known: String? = nil
    if FileManager.default.fileExists(atPath: path) {
      do {
        known = try String(contentsOfFile: path, encoding: .utf8)
          .trimmingCharacters(in: .whitespacesAndNewlines)
      } catch {
        throw TransportError(.state, "cannot read the cluster id in \(path): \(error)")
      }
    }
    return PinnedCluster(known: known, joinNew: joinNew, who: who) { id in
      try AtomicFile.write(Data((id + "\n").utf8), to: path)
    }
  }
}

/// Replaces a file so that a crash leaves the old content or the new, never half of it.
public enum AtomicFile {
  public static func write(_ data: Data, to path: String, mode: mode_t = 0o644)
    throws(TransportError)
  {
    do { try PKIFiles.write(data, to: path, mode: mode) } catch {
      throw TransportError(.state, error.message)
    }
  }
}
