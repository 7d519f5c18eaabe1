import ClusterPKI
import Foundation
import Logging
import SchedModel
import SchedStore
import SchedWire
import WireTransport
import X509

/// The cluster CA at work in the scheduler: it serves the cluster port's TLS, signs the
/// requests of joining nodes and routers (the certificate names what their hello named, after
/// the token was checked), records every certificate it issues, and tells the session what
/// its records say of a presented one (revoked when its node was removed).
public final class ClusterAuthority: Sendable {
  public let tls: ServerTLS
  /// Where the CA's certificate and key are kept.
  public let directory: String
  /// How long node and router certificates live; renewed at two thirds.
  public let validity: TimeInterval
  let store: any StateStore
  let now: @Sendable () -> Date
  let logger: Logger

  /// The CA kept in `directory` (made on first start), and a fresh certificate for the
  /// scheduler itself.
  public static func load(
    directory: String, store: any StateStore, validity: TimeInterval,
    now: @escaping @Sendable () -> Date, logger: Logger
  ) throws(SchedulerError) -> ClusterAuthority {
    do {
      let (authority, created) = try PKIFiles.authority(in: directory, now: now())
      if created {
        logger.notice(
          "made the cluster CA",
          metadata: ["directory": "\(directory)", "ca.fingerprint": "\(authority.fingerprint)"])
      }
      let tls = try ServerTLS(authority: authority, now: now(), validity: validity)
      return ClusterAuthority(
        tls: tls, directory: directory, validity: validity, store: store, now: now,
        logger: logger)
    } catch let error as PKIError {
      throw SchedulerError(.config, "cluster CA: \(error.message)")
    } catch let error as TransportError {
      throw SchedulerError(.config, error.message)
    } catch {
      throw SchedulerError(.config, "cluster CA: \(error)")
    }
  }

  init(
    tls: ServerTLS, directory: String, validity: TimeInterval, store: any StateStore,
    now: @escaping @Sendable () -> Date, logger: Logger
  ) {
    self.tls = tls
    self.directory = directory
    self.validity = validity
    self.store = store
    self.now = now
    self.logger = logger
  }

  /// The CA's fingerprint, the first part of every join token.
  public var fingerprint: String { tls.authority.fingerprint }

  /// The whole token for a secret.
  public func token(secret: String) -> JoinToken {
    JoinToken(caFingerprint: fingerprint, secret: secret)
  }

  /// What the connection's certificate (verified against the CA by TLS) says, with the
  /// standing the records give it; nil when the peer presented none.
  func certified(_ connection: LineConnection) async -> CertifiedPeer? {
    guard let certificate = await connection.peerCertificate() else { return nil }
    guard let identity = try? PeerIdentity(certificate: certificate),
      let role = PeerRole(rawValue: identity.role.rawValue)
    else {
      // A scheduler's certificate, or one without a node: it names no agent or router.
      return CertifiedPeer(role: .agent, name: "", standing: .unknown)
    }
    let standing: CertifiedPeer.Standing
    do {
      switch try await store.certificate(serial: identity.serial) {
      case nil: standing = .unknown
      case let record? where record.revokedAt != nil: standing = .revoked
      case let record?:
        standing = record.role == role.rawValue && record.name == identity.name ? .valid : .unknown
      }
    } catch {
      logger.error("cannot read the certificate records", metadata: ["error": "\(error)"])
      standing = .unknown
    }
    return CertifiedPeer(role: role, name: identity.name, standing: standing)
  }

  /// Signs `requestPEM` for `role` and `name`, records it, and returns the chain to send
  /// (the certificate, then the CA's).
  func issue(requestPEM: String, role: PeerRole, name: String) async throws(SchedulerError)
    -> String
  {
    guard let certificateRole = PeerIdentity.Role(rawValue: role.rawValue) else {
      throw SchedulerError(.invalid, "no certificates for \(role.rawValue)s")
    }
    let at = now()
    do {
      let certificate = try tls.authority.issue(
        requestPEM: requestPEM, role: certificateRole, name: name, now: at, validity: validity)
      let identity = try PeerIdentity(certificate: certificate)
      try await store.recordCertificate(
        IssuedCertificate(
          serial: identity.serial, role: role.rawValue, name: name, issuedAt: at,
          notAfter: identity.notAfter),
        events: [
          ClusterEvent(
            at: at, actor: "scheduler", kind: "certificate.issued", subject: name,
            detail:
              "\(role.rawValue) certificate \(identity.serial.prefix(16)) until \(identity.notAfter.formatted(.iso8601))"
          )
        ])
      return [try certificate.pem, try tls.authority.certificate.pem].joined(separator: "\n")
    } catch let error as PKIError {
      throw SchedulerError(error.code == .badRequest ? .invalid : .config, error.message)
    } catch let error as StoreError {
      throw SchedulerError(.store, "cannot record the certificate: \(error.message)")
    } catch {
      throw SchedulerError(.config, "cannot issue a certificate: \(error)")
    }
  }

  /// Revokes every certificate issued to `name` in `role`; returns how many.
  func revoke(role: PeerRole, name: String, actor: String) async throws(SchedulerError) -> Int {
    let at = now()
    do {
      return try await store.revokeCertificates(
        role: role.rawValue, name: name, at: at,
        events: [
          ClusterEvent(
            at: at, actor: actor, kind: "certificate.revoked", subject: name,
            detail: "every \(role.rawValue) certificate of '\(name)': it cannot connect again")
        ])
    } catch {
      throw SchedulerError(.store, "cannot revoke the certificates: \(error.message)")
    }
  }
}
