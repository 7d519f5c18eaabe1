/// The scheduler's side of one two-phase switch across routers, as a value.
///
/// Every router connected when the round starts must ack the prepare; one refusal, a router
/// leaving, or the deadline passing aborts the round, and the old color stays live everywhere.
public struct SwitchRound: Sendable, Hashable {
  public enum Decision: Sendable, Hashable {
    /// Still waiting for acks.
    case waiting
    /// Everyone is ready: send commit.
    case commit
    /// Send abort to every router; the reason is for the operator.
    case abort(String)
  }

  public let epoch: Int64
  public let routers: Set<String>
  public private(set) var acked: Set<String> = []
  public private(set) var decision: Decision = .waiting

  public init(epoch: Int64, routers: Set<String>) {
    self.epoch = epoch
    self.routers = routers
    if routers.isEmpty {
      decision = .abort("no router is connected; start sched-router, or switch when one is back")
    }
  }

  public mutating func ack(from router: String, epoch: Int64) -> Decision {
    guard decision == .waiting, epoch == self.epoch, routers.contains(router) else {
      return decision
    }
    acked.insert(router)
    if acked == routers { decision = .commit }
    return decision
  }

  public mutating func refused(by router: String, reason: String) -> Decision {
    guard decision == .waiting, routers.contains(router) else { return decision }
    decision = .abort("router \(router) refused the prepare: \(reason)")
    return decision
  }

  public mutating func left(_ router: String) -> Decision {
    guard decision == .waiting, routers.contains(router), !acked.contains(router) else {
      return decision
    }
    decision = .abort("router \(router) disconnected before it was ready")
    return decision
  }

  /// A router's answer to its prepare.
  public enum Answer: Sendable, Hashable {
    case acked(epoch: Int64)
    case refused(String)
    case left
  }

  /// Takes every answer that came before the deadline; whoever is still missing then timed
  /// out.
  public mutating func settle(_ answers: [String: Answer]) -> Decision {
    for (router, answer) in answers.sorted(by: { $0.key < $1.key }) {
      switch answer {
      case .acked(let epoch): _ = ack(from: router, epoch: epoch)
      case .refused(let reason): _ = refused(by: router, reason: reason)
      case .left: _ = left(router)
      }
    }
    return timedOut()
  }

  /// The deadline passed.
  public mutating func timedOut() -> Decision {
    guard decision == .waiting else { return decision }
    let missing = routers.subtracting(acked).sorted()
    decision = .abort("no ack in time from router(s) \(missing.joined(separator: ", "))")
    return decision
  }
}
