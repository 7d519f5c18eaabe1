import ClusterPKI
import Foundation
import Logging
import OperatorAPI
import SchedModel
import SchedStore
import SchedWire
import Synchronization

/// The join secrets, per role, with one owner: every hello reads them, a rotation changes
/// them (written to the store first). A secret from schedd's flags is used until one is
/// rotated; a rotated one is kept in the store and wins over the flags from then on, across
/// restarts. Joined nodes and routers prove themselves with their certificates, so a rotation
/// never touches them.
public final class JoinSecrets: Sendable {
  static let scope = "join-token"
  private let secrets: Mutex<[PeerRole: String]>
  let store: any StateStore
  /// Rotated secrets are sealed in the store like the apps' secrets.
  let seal: SecretSeal

  init(_ secrets: [PeerRole: String], store: any StateStore, seal: SecretSeal) {
    self.secrets = Mutex(secrets)
    self.store = store
    self.seal = seal
  }

  /// The secrets in force: a rotated one from the store, else the flag's. Without either,
  /// an agent secret is made and kept (routers stay refused until given a token).
  static func load(
    config: SchedulerConfig, store: any StateStore, seal: SecretSeal, logger: Logger
  ) async throws(SchedulerError) -> JoinSecrets {
    var secrets: [PeerRole: String] = [:]
    let flags: [PeerRole: String?] = [.agent: config.joinToken, .router: config.routerToken]
    for (role, flag) in flags {
      let stored: String?
      do { stored = try await store.secret(scope: scope, name: role.rawValue) } catch {
        throw SchedulerError(.store, "cannot read the join tokens: \(error.message)")
      }
      if let sealed = stored {
        let stored = try seal.openStored(sealed, scope: scope, name: role.rawValue)
        if let flag, !flag.isEmpty, flag != stored {
          logger.notice(
            "the \(role.rawValue) join token was rotated (schedctl token rotate): the one schedd was started with is not used",
            metadata: ["role": "\(role.rawValue)"])
        }
        secrets[role] = stored
      } else if let flag, !flag.isEmpty {
        secrets[role] = flag
      }
    }
    let loaded = JoinSecrets(secrets, store: store, seal: seal)
    if secrets[.agent] == nil {
      _ = try await loaded.rotate(.agent, actor: "scheduler", at: Date())
      logger.notice(
        "made a join token (no --join-token was given): schedctl node join-token prints it")
    }
    return loaded
  }

  /// The secret per served role.
  var current: [PeerRole: String] { secrets.withLock { $0 } }

  /// A new secret for `role`, kept before it is used; the old one is refused from then on.
  func rotate(_ role: PeerRole, actor: String, at: Date) async throws(SchedulerError) -> String {
    let secret = JoinToken.randomSecret()
    let sealed = try seal.sealStored(secret, scope: Self.scope, name: role.rawValue)
    do {
      try await store.setSecret(
        sealed, scope: Self.scope, name: role.rawValue,
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: "token.rotated", subject: role.rawValue,
            detail:
              "a new \(role.rawValue) join token; the old one joins nothing from now on (joined \(role.rawValue)s keep their certificates)"
          )
        ])
    } catch {
      throw SchedulerError(.store, "the token was not rotated: \(error.message)")
    }
    secrets.withLock { $0[role] = secret }
    return secret
  }
}

/// The join tokens as operators see them: the secrets in force with the CA's fingerprint
/// (`TRN-1-...`), or bare on a plain-TCP cluster port.
struct JoinTokens: Sendable {
  let secrets: JoinSecrets
  let authority: ClusterAuthority?
  /// The cluster address nodes dial, when known.
  let scheduler: String?
  let cluster: String

  func whole(_ secret: String) -> String {
    authority.map { $0.token(secret: secret).description } ?? secret
  }

  /// What `GET /v1/cluster/join` answers.
  func info() -> JoinInfo {
    let current = secrets.current
    return JoinInfo(
      scheduler: scheduler, token: current[.agent].map(whole) ?? "", cluster: cluster,
      routerToken: current[.router].map(whole))
  }

  /// Rotates `role`'s token; returns the new whole token.
  func rotate(_ role: PeerRole, actor: String) async throws(SchedulerError) -> String {
    whole(try await secrets.rotate(role, actor: actor, at: Date()))
  }
}
