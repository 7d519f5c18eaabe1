import Blobs
import ClusterPKI
import Crypto
import Foundation
import OperatorAPI
import SchedModel
import SchedStore
import Synchronization

/// Who made an API request: the token's name (the event log's actor) and its role.
public struct Caller: Sendable, Hashable {
  public let name: String
  public let role: OperatorRole

  /// The event log's actor: the token's name, with what the client says of its user (not
  /// checked) after it.
  func actor(claimed: String?) -> String {
    guard let claimed, !claimed.isEmpty else { return name }
    return "\(name) (\(claimed))"
  }
}

/// The operators' API tokens, with one owner: every request is checked against the hashes
/// held here (read from the store at start, changed only after the store took the change).
/// The token schedd was started with (`--api-token`) is the bootstrap admin: it lives in the
/// configuration, so it cannot be revoked through the API, and an operator who lost every
/// other token still has it.
public final class OperatorTokens: Sendable {
  public static let bootstrapName = "bootstrap"
  /// Tokens start with it, so a leaked one is recognisable (and scanners can look for it).
  static let prefix = "trn-api-"
  private let byHash: Mutex<[String: APITokenRecord]>
  private let bootstrapHash: String
  let store: any StateStore

  init(bootstrap: String, tokens: [APITokenRecord], store: any StateStore) {
    bootstrapHash = Self.hash(bootstrap)
    byHash = Mutex(Dictionary(tokens.map { ($0.hash, $0) }, uniquingKeysWith: { a, _ in a }))
    self.store = store
  }

  static func load(bootstrap: String, store: any StateStore) async throws(SchedulerError)
    -> OperatorTokens
  {
    do {
      return OperatorTokens(bootstrap: bootstrap, tokens: try await store.apiTokens(), store: store)
    } catch {
      throw SchedulerError(.store, "cannot read the API tokens: \(error.message)")
    }
  }

  static func hash(_ token: String) -> String {
    // Once per API request: hex by table, not `String(format:)` per byte (16 µs a token).
    BlobHash.hex(SHA256.hash(data: Array(token.utf8)))
  }

  /// The caller a presented token stands for, or nil when it is no token of this scheduler.
  /// Only hashes are compared: a high-entropy token's hash leaks nothing about it.
  func authenticate(_ presented: String) -> Caller? {
    guard !presented.isEmpty else { return nil }
    let hash = Self.hash(presented)
    if hash == bootstrapHash { return Caller(name: Self.bootstrapName, role: .admin) }
    return byHash.withLock { $0[hash] }.map { Caller(name: $0.name, role: $0.role) }
  }

  /// Whether `caller` still stands (its token was not revoked since it logged in).
  func stillValid(_ caller: Caller) -> Bool {
    caller.name == Self.bootstrapName
      || byHash.withLock { $0.values.contains { $0.name == caller.name && $0.role == caller.role } }
  }

  func list() -> [TokenView] {
    let stored = byHash.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    return [
      TokenView(
        name: Self.bootstrapName, role: .admin, createdAt: nil, createdBy: "schedd --api-token",
        bootstrap: true)
    ]
      + stored.map {
        TokenView(
          name: $0.name, role: $0.role, createdAt: $0.createdAt, createdBy: $0.createdBy,
          bootstrap: false)
      }
  }

  /// Makes a token named `name`; returns it (only its hash is kept).
  func create(name: String, role: OperatorRole, actor: String, at: Date)
    async throws(SchedulerError) -> String
  {
    if let problem = APITokenRecord.problem(withName: name) {
      throw SchedulerError(.invalid, problem)
    }
    guard name != Self.bootstrapName else {
      throw SchedulerError(
        .conflict,
        "'\(Self.bootstrapName)' is the token schedd was started with; choose another name")
    }
    let token = Self.prefix + JoinToken.randomSecret() + JoinToken.randomSecret()
    let record = APITokenRecord(
      name: name, role: role, hash: Self.hash(token), createdAt: at, createdBy: actor)
    do {
      try await store.addAPIToken(
        record,
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: "token.created", subject: name,
            detail: "an API token with role \(role.rawValue)")
        ])
    } catch  where error.code == .conflict {
      throw SchedulerError(
        .conflict,
        "a token named '\(name)' exists: revoke it first (schedctl token revoke \(name)) or choose another name"
      )
    } catch {
      throw SchedulerError(.store, "the token was not made: \(error.message)")
    }
    byHash.withLock { $0[record.hash] = record }
    return token
  }

  /// Revokes the token named `name`: requests with it are refused from now on, and the
  /// dashboard sessions it opened end.
  func revoke(name: String, actor: String, at: Date) async throws(SchedulerError) {
    guard name != Self.bootstrapName else {
      throw SchedulerError(
        .conflict,
        "'\(Self.bootstrapName)' is the token schedd was started with (--api-token or TURNOUT_API_TOKEN): change it there and restart schedd"
      )
    }
    let removed: Bool
    do {
      removed = try await store.removeAPIToken(
        named: name,
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: "token.revoked", subject: name,
            detail: "requests with this API token are refused from now on")
        ])
    } catch {
      throw SchedulerError(.store, "the token was not revoked: \(error.message)")
    }
    guard removed else {
      throw SchedulerError(.notFound, "no API token named '\(name)' (schedctl token ls lists them)")
    }
    byHash.withLock { table in table = table.filter { $0.value.name != name } }
  }
}
