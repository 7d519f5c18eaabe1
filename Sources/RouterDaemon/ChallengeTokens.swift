import Synchronization

/// The ACME HTTP-01 tokens this router answers for, token → key authorization, with one
/// owner: the control session replaces the whole set as the scheduler sends it; event loops
/// read it only for `/.well-known/acme-challenge/` requests. Not kept on disk: a challenge
/// lives for the minute its order takes.
final class ChallengeTokens: Sendable {
  private let tokens = Mutex<[String: String]>([:])

  /// Takes the scheduler's set in place of the one held; returns how many tokens it holds.
  func replace(_ set: [String: String]) -> Int {
    tokens.withLock {
      $0 = set
      return set.count
    }
  }

  func keyAuthorization(_ token: String) -> String? { tokens.withLock { $0[token] } }
}
