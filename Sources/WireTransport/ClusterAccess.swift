import ClusterPKI
import Foundation
import Logging
import SchedModel
import SchedWire
import Synchronization

/// How an agent or a router proves itself to the scheduler, one per process: over TLS with its
/// own certificate once it has one (kept in its credentials directory), with the join token's
/// secret and a certificate request while it joins (the scheduler checked against the CA the
/// token pins), or, only when told (`--insecure-cluster`), with the token's secret in plain
/// TCP.
public final class ClusterAccess: Sendable {
  public enum Mode: Sendable {
    /// Plain TCP: the secret travels in clear. For tests of the old path only.
    case insecure(secret: String)
    /// TLS; `token` is needed only to join (no credentials yet, or expired ones).
    case tls(directory: String, token: JoinToken?)
  }

  /// What one dial presents.
  public struct Dial: Sendable {
    public var tls: ClientTLS?
    /// The join secret for the hello (empty when the certificate proves the node).
    public var token: String
    /// A request for a new certificate, sent in the hello; its key waits here for the welcome.
    public var request: CertificateRequest?
  }

  public let mode: Mode
  public let role: PeerIdentity.Role
  public let name: String
  private let credentials: Mutex<NodeCredentials?>
  private let now: @Sendable () -> Date

  /// Loads the credentials kept in TLS mode.
  public init(
    mode: Mode, role: PeerIdentity.Role, name: String,
    now: @escaping @Sendable () -> Date = Date.init
  ) throws(TransportError) {
    self.mode = mode
    self.role = role
    self.name = name
    self.now = now
    var loaded: NodeCredentials? = nil
    if case .tls(let directory, _) = mode {
      do { loaded = try NodeCredentials.load(from: directory) } catch {
        throw TransportError(.credentials, error.message)
      }
      if let found = loaded {
        guard found.identity.name == name, found.identity.role == role else {
          throw TransportError(
            .credentials,
            "the credentials in \(directory) are those of \(found.identity); this is \(role.rawValue) '\(name)'. Give each node its own directory, or remove it to join again"
          )
        }
        if !found.keyMatches { loaded = nil }
      }
    }
    credentials = Mutex(loaded)
  }

  /// What a daemon's flags ask for: TLS with the credentials in `directory` (joining with
  /// `token` when it has none), or with `insecure`, the token's secret in plain TCP.
  /// A token naming another CA than the credentials' is refused (the node joined another
  /// cluster) unless `joinNew`: then the node joins with the token as if it had none.
  public static func configured(
    token: String, insecure: Bool, directory: String, role: PeerIdentity.Role, name: String,
    joinNew: Bool = false
  ) throws(TransportError) -> ClusterAccess {
    if insecure {
      guard !token.isEmpty else {
        throw TransportError(
          .credentials, "no join token: pass --token or set it in the environment")
      }
      var secret = token
      if JoinToken.isToken(token) {
        do { secret = try JoinToken.parse(token).secret } catch {
          throw TransportError(.credentials, error.message)
        }
      }
      return .insecure(secret: secret, role: role, name: name)
    }
    var joinToken: JoinToken? = nil
    if !token.isEmpty {
      do { joinToken = try JoinToken.parse(token) } catch {
        throw TransportError(
          .credentials,
          "\(error.message). A scheduler started with --insecure-cluster takes a bare token: then pass --insecure-cluster here too"
        )
      }
    }
    let access = try ClusterAccess(
      mode: .tls(directory: directory, token: joinToken), role: role, name: name)
    if let joinToken, let held = access.authorityFingerprint,
      held != joinToken.caFingerprint
    {
      guard joinNew else {
        throw TransportError(
          .credentials,
          "this \(role.rawValue) joined the cluster of CA \(held.prefix(12))..., but its token names CA \(joinToken.caFingerprint.prefix(12))...: pass --join-new-cluster to leave that cluster for the token's, or give the token of the cluster it joined"
        )
      }
      access.forget()
    }
    if access.identity == nil && joinToken == nil {
      throw TransportError(
        .credentials,
        "this \(role.rawValue) has not joined yet and has no join token: pass --token TRN-1-... (schedctl node join-command prints it)"
      )
    }
    return access
  }

  /// Plain TCP with a token's secret (no files read).
  public static func insecure(secret: String, role: PeerIdentity.Role, name: String)
    -> ClusterAccess
  {
    ClusterAccess(
      mode: .insecure(secret: secret), role: role, name: name, loaded: nil, now: Date.init)
  }

  private init(
    mode: Mode, role: PeerIdentity.Role, name: String, loaded: NodeCredentials?,
    now: @escaping @Sendable () -> Date
  ) {
    self.mode = mode
    self.role = role
    self.name = name
    self.now = now
    credentials = Mutex(loaded)
  }

  /// The fingerprint of the CA the kept credentials chain to.
  var authorityFingerprint: String? {
    credentials.withLock { $0 }.flatMap { try? Fingerprint.of($0.authority) }
  }

  /// Drops the credentials in memory: the next dial joins with the token (whose welcome
  /// overwrites the files).
  func forget() { credentials.withLock { $0 = nil } }

  /// The certificate in use, if any.
  public var identity: PeerIdentity? { credentials.withLock { $0?.identity } }

  public var isInsecure: Bool {
    if case .insecure = mode { return true }
    return false
  }

  /// What the next session's dial presents: the certificate when it is still good (with a
  /// request for a new one once two thirds of its life are used), else the join token and a
  /// request.
  public func sessionDial() throws(TransportError) -> Dial {
    try dial(renew: true)
  }

  /// True when the certificate in use has lived two thirds of its life.
  public var renewalDue: Bool {
    guard case .tls = mode, let identity else { return false }
    return identity.lifeUsed(at: now()) >= 2.0 / 3
  }

  /// What a renewal's connection presents: the current certificate and a new request.
  public func renewalDial() throws(TransportError) -> Dial {
    guard case .tls = mode, let current = credentials.withLock({ $0 }) else {
      throw TransportError(.credentials, "no certificate to renew")
    }
    return Dial(
      tls: ClientTLS(trust: .authority(current.authority), credentials: current), token: "",
      request: try Self.request(role, name))
  }

  /// What a data connection presents: the certificate only (it never asks for one).
  public func dataDial() throws(TransportError) -> Dial {
    try dial(renew: false)
  }

  private func dial(renew: Bool) throws(TransportError) -> Dial {
    switch mode {
    case .insecure(let secret):
      return Dial(tls: nil, token: secret, request: nil)
    case .tls(let directory, let token):
      let at = now()
      if let current = credentials.withLock({ $0 }), current.identity.notAfter > at {
        let due = renew && current.identity.lifeUsed(at: at) >= 2.0 / 3
        return Dial(
          tls: ClientTLS(trust: .authority(current.authority), credentials: current), token: "",
          request: due ? try Self.request(role, name) : nil)
      }
      guard let token else {
        let expired = credentials.withLock { $0 } != nil
        throw TransportError(
          .credentials,
          expired
            ? "this \(role.rawValue)'s certificate in \(directory) expired: give it a join token (TRN-1-..., from schedctl node join-command) to join again"
            : "this \(role.rawValue) has not joined yet: give it the join token (TRN-1-..., from schedctl node join-command)"
        )
      }
      guard renew else {
        throw TransportError(.credentials, "this \(role.rawValue) has not joined yet")
      }
      return Dial(
        tls: ClientTLS(trust: .pinned(token.caFingerprint)), token: token.secret,
        request: try Self.request(role, name))
    }
  }

  /// Keeps the certificate a welcome carried for `dial`'s request, on disk before it is used.
  public func accept(_ welcome: Welcome, for dial: Dial) throws(TransportError) {
    guard let request = dial.request else { return }
    guard case .tls(let directory, let token) = mode else { return }
    guard let chain = welcome.certificate else {
      // A scheduler that did not issue: keep using what this node has.
      if credentials.withLock({ $0 }) == nil {
        throw TransportError(.refused, "the scheduler sent no certificate for this node's request")
      }
      return
    }
    try install(chain: chain, request: request, directory: directory, pin: token?.caFingerprint)
  }

  /// Keeps a certificate issued during a session (a renewal).
  public func accept(chain: String, for request: CertificateRequest) throws(TransportError) {
    guard case .tls(let directory, let token) = mode else { return }
    try install(chain: chain, request: request, directory: directory, pin: token?.caFingerprint)
  }

  private func install(chain: String, request: CertificateRequest, directory: String, pin: String?)
    throws(TransportError)
  {
    do throws(PKIError) {
      var expected = pin
      if let known = credentials.withLock({ $0?.authority }) {
        expected = try Fingerprint.of(known)
      }
      let next = try NodeCredentials(chainPEM: chain, key: request.key, expectedCA: expected)
      guard next.identity.name == name, next.identity.role == role else {
        throw PKIError(.badCertificate, "the scheduler issued a certificate for \(next.identity)")
      }
      try next.save(to: directory)
      credentials.withLock { $0 = next }
    } catch {
      throw TransportError(.credentials, "cannot keep the new certificate: \(error.message)")
    }
  }

  private static func request(_ role: PeerIdentity.Role, _ name: String) throws(TransportError)
    -> CertificateRequest
  {
    do { return try CertificateRequest(role: role, name: name) } catch {
      throw TransportError(.tls, error.message)
    }
  }
}
