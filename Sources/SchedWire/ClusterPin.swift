/// What an agent or a router remembers of the cluster it joined, and the rule it applies to
/// every `welcome`: a scheduler of another cluster (a new or wrong database) is refused, so it
/// cannot empty a router's table or a node's containers. Pure; the daemons keep it on disk.
public struct ClusterPin: Sendable, Hashable {
  /// The cluster joined, once a scheduler said it.
  public private(set) var known: String?
  /// The operator said to join whichever cluster answers next (`--join-new-cluster`); spent
  /// by the first welcome taken.
  public private(set) var joinNew: Bool

  public init(known: String?, joinNew: Bool = false) {
    self.known = known
    self.joinNew = joinNew
  }

  public enum Decision: Sendable, Hashable {
    /// Go on; `save` when the id is new and must be written down before anything else.
    case accept(save: Bool)
    /// Close, keep serving what is served and the containers that run, and try again later.
    case refuse(String)
  }

  /// Decides on the cluster id a scheduler offered, and remembers it when taken. Asking again
  /// with the same id gives `accept(save: false)`.
  public mutating func admit(_ offered: String?, who: String) -> Decision {
    guard let offered, !offered.isEmpty else {
      guard let known else { return .accept(save: false) }
      return .refuse(
        "the scheduler did not say which cluster it serves, and this \(who) belongs to cluster \(known); upgrade schedd, or restart this \(who) with --join-new-cluster to follow it"
      )
    }
    if offered == known { return .accept(save: false) }
    if known == nil || joinNew {
      known = offered
      joinNew = false
      return .accept(save: true)
    }
    return .refuse(
      "the scheduler serves cluster \(offered), but this \(who) belongs to cluster \(known!): was schedd started with another --db? Nothing was changed here. If the new cluster is meant, restart this \(who) with --join-new-cluster"
    )
  }
}
