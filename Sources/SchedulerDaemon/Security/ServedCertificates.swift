import ClusterPKI
import Foundation
import OperatorAPI
import SchedModel
import SchedStore
import SchedWire
import Synchronization

/// The certificates routers serve HTTPS with, with one owner: kept sealed in the store (scope
/// `edge-cert`, one per host name, the whole certificate with its key), checked before they are
/// taken (a wrong name, an expired one, a key that is not the leaf's are refused with an
/// event, and the one in use serves on), and handed to every router as a whole set, versioned
/// so a router keeps the newest.
final class ServedCertificates: Sendable {
  static let scope = "edge-cert"
  static let versionScope = "edge-cert-meta"
  let store: any StateStore
  let seal: SecretSeal
  let routers: RouterHub
  let now: @Sendable () -> Date
  private let state: Mutex<(version: Int64, byName: [String: EdgeCertificate])>

  private init(
    store: any StateStore, seal: SecretSeal, routers: RouterHub,
    now: @escaping @Sendable () -> Date,
    version: Int64, byName: [String: EdgeCertificate]
  ) {
    self.store = store
    self.seal = seal
    self.routers = routers
    self.now = now
    state = Mutex((version, byName))
  }

  static func load(
    store: any StateStore, seal: SecretSeal, routers: RouterHub, now: @escaping @Sendable () -> Date
  ) async throws(SchedulerError) -> ServedCertificates {
    let sealed: [String: String]
    let version: String?
    do {
      sealed = try await store.secrets(scope: scope)
      version = try await store.secret(scope: versionScope, name: "version")
    } catch {
      throw SchedulerError(.store, "cannot read the HTTPS certificates: \(error.message)")
    }
    var byName: [String: EdgeCertificate] = [:]
    for (name, value) in sealed {
      let json = try seal.openStored(value, scope: scope, name: name)
      guard let certificate = try? JSONDecoder().decode(EdgeCertificate.self, from: Data(json.utf8))
      else {
        throw SchedulerError(
          .store, "the stored certificate for \(name) does not read; upload it again")
      }
      byName[name] = certificate
    }
    let served = ServedCertificates(
      store: store, seal: seal, routers: routers, now: now, version: Int64(version ?? "") ?? 0,
      byName: byName)
    await routers.publish(served.set)
    return served
  }

  /// What routers are sent.
  var set: EdgeCertificates {
    state.withLock {
      EdgeCertificates(
        version: $0.version, certificates: $0.byName.values.sorted { $0.name < $1.name })
    }
  }

  /// What operators see: never a key.
  func views() -> [CertificateView] {
    state.withLock { $0.byName.values.sorted { $0.name < $1.name }.map(CertificateView.init) }
  }

  func view(_ name: String) throws(SchedulerError) -> CertificateView {
    guard let certificate = state.withLock({ $0.byName[name.lowercased()] }) else {
      throw SchedulerError(
        .notFound, "no certificate for \(name) (schedctl cert list names the ones there are)")
    }
    return CertificateView(certificate)
  }

  /// Checks and takes an operator's certificate for `name`; a refusal is an event too, and
  /// the certificate in use (if any) serves on.
  func upload(name: String, chain: String, key: String, actor: String)
    async throws(SchedulerError) -> CertificateView
  {
    let name = name.lowercased()
    if let problem = Self.nameProblem(name) { throw SchedulerError(.invalid, problem) }
    let checked: ServedCertificate.Checked
    do {
      checked = try ServedCertificate.check(chainPEM: chain, keyPEM: key, name: name, now: now())
    } catch {
      let kept = state.withLock { $0.byName[name] != nil }
      try? await store.appendEvents([
        ClusterEvent(
          at: now(), actor: actor, kind: "certificate.refused", subject: name,
          detail: error.message + (kept ? "; the certificate in use serves on" : ""))
      ])
      throw SchedulerError(.invalid, "certificate for \(name) refused: \(error.message)")
    }
    let certificate = EdgeCertificate(
      name: name, chain: chain, key: key, notBefore: checked.notBefore, notAfter: checked.notAfter,
      issuer: checked.issuer, source: "operator", fingerprint: checked.fingerprint)
    try await save(
      certificate, name: name,
      event: ClusterEvent(
        at: now(), actor: actor, kind: "certificate.uploaded", subject: name,
        detail:
          "issued by \(checked.issuer), valid until \(checked.notAfter.formatted(.iso8601)); routers serve it from now on"
      ))
    return CertificateView(certificate)
  }

  /// The certificate serving `name` exactly (not a wildcard covering it), if any.
  func certificate(_ name: String) -> EdgeCertificate? {
    state.withLock { $0.byName[name.lowercased()] }
  }

  /// Takes a certificate the scheduler obtained over ACME, checked like an upload; the event
  /// says issued (a first one) or renewed.
  func obtained(name: String, chain: String, key: String, directory: String)
    async throws(SchedulerError) -> CertificateView
  {
    let checked: ServedCertificate.Checked
    do {
      checked = try ServedCertificate.check(chainPEM: chain, keyPEM: key, name: name, now: now())
    } catch {
      throw SchedulerError(
        .invalid, "the CA's certificate for \(name) is refused: \(error.message)")
    }
    let before = certificate(name)
    let certificate = EdgeCertificate(
      name: name, chain: chain, key: key, notBefore: checked.notBefore, notAfter: checked.notAfter,
      issuer: checked.issuer, source: "acme", fingerprint: checked.fingerprint)
    let until = checked.notAfter.formatted(.iso8601)
    try await save(
      certificate, name: name,
      event: ClusterEvent(
        at: now(), actor: "scheduler",
        kind: before == nil ? "certificate.issued" : "certificate.renewed",
        subject: name,
        detail: (before.map {
          "replaces the \($0.source) certificate valid until \($0.notAfter.formatted(.iso8601)); "
        } ?? "")
          + "issued by \(checked.issuer) over ACME (\(directory)), valid until \(until); routers serve it from now on"
      ))
    return CertificateView(certificate)
  }

  func remove(name: String, actor: String) async throws(SchedulerError) {
    let name = name.lowercased()
    _ = try view(name)
    try await save(
      nil, name: name,
      event: ClusterEvent(
        at: now(), actor: actor, kind: "certificate.removed", subject: name,
        detail: "routers no longer serve HTTPS for it"))
  }

  private func save(_ certificate: EdgeCertificate?, name: String, event: ClusterEvent)
    async throws(SchedulerError)
  {
    var sealed: String? = nil
    if let certificate {
      let json = String(decoding: (try? JSONEncoder().encode(certificate)) ?? Data(), as: UTF8.self)
      sealed = try seal.sealStored(json, scope: Self.scope, name: name)
    }
    let version = max(state.withLock { $0.version } + 1, Int64(now().timeIntervalSince1970 * 1000))
    do {
      try await store.setSecret(sealed, scope: Self.scope, name: name, events: [event])
      try await store.setSecret(
        String(version), scope: Self.versionScope, name: "version", events: [])
    } catch {
      throw SchedulerError(.store, "the certificate was not changed: \(error.message)")
    }
    state.withLock { state in
      state.byName[name] = certificate
      state.version = version
    }
    await routers.publish(set)
  }

  /// Why `name` cannot name a certificate, or nil: a host name, or `*.` and one.
  static func nameProblem(_ name: String) -> String? {
    let host = name.hasPrefix("*.") ? String(name.dropFirst(2)) : name
    let valid =
      !host.isEmpty && host.count <= 253 && host.contains(".") || host == "localhost"
    let allowed = host.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
    return valid && allowed && !host.hasPrefix(".") && !host.hasSuffix(".")
      ? nil : "'\(name)' is not a host name (like www.example.com, or *.example.com)"
  }
}

extension CertificateView {
  init(_ certificate: EdgeCertificate) {
    self.init(
      name: certificate.name, issuer: certificate.issuer, notBefore: certificate.notBefore,
      notAfter: certificate.notAfter, source: certificate.source,
      fingerprint: certificate.fingerprint)
  }
}
