import ClusterPKI
import Foundation
import Testing
import X509

@Suite("Cluster PKI: the CA, node certificates, join tokens, key files")
struct ClusterPKITests {
  let now = Date(timeIntervalSince1970: 1_800_000_000)

  @Test("a token reads back; damaged tokens and bare secrets are refused with what to do")
  func tokens() throws {
    let token = JoinToken(caFingerprint: String(repeating: "ab", count: 32), secret: "s-3cr-et")
    #expect(try JoinToken.parse(" \(token)\n") == token)
    #expect(JoinToken.isToken(token.description))
    #expect(!JoinToken.isToken("jt-proc"))
    let bare = #expect(throws: PKIError.self) { try JoinToken.parse("jt-proc") }
    #expect(bare?.message.contains("join-command") == true)
    let cut = #expect(throws: PKIError.self) {
      try JoinToken.parse("TRN-1-" + String(repeating: "ab", count: 20) + "-secret")
    }
    #expect(cut?.message.contains("64 hex digits") == true)
    #expect(throws: PKIError.self) {
      try JoinToken.parse("TRN-1-" + String(repeating: "ab", count: 32) + "-")
    }
    let secrets = Set((0..<50).map { _ in JoinToken.randomSecret() })
    #expect(secrets.count == 50 && secrets.allSatisfy { $0.count == 26 })
  }

  @Test("a node's certificate names the node and role the CA chose, for the request's key")
  func issue() throws {
    let ca = try CertificateAuthority.create(now: now)
    let request = try CertificateRequest(role: .router, name: "asked-for")
    let certificate = try ca.issue(
      requestPEM: request.pem, role: .agent, name: "web-1", now: now, validity: 3600)
    let identity = try PeerIdentity(certificate: certificate)
    #expect(identity.role == .agent && identity.name == "web-1")
    #expect(certificate.publicKey == Certificate.PublicKey(request.key.publicKey))
    #expect(certificate.issuer == ca.certificate.subject)
    #expect(identity.notAfter == now.addingTimeInterval(3600))
    // Back-dated a minute for clocks a little off: 2,460 s of 3,660.
    #expect(abs(identity.lifeUsed(at: now.addingTimeInterval(2400)) - 2460.0 / 3660) < 0.001)
    #expect(ca.certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
    // Serials differ: revocation names one certificate.
    let again = try ca.issue(
      requestPEM: request.pem, role: .agent, name: "web-1", now: now, validity: 3600)
    #expect(try PeerIdentity(certificate: again).serial != identity.serial)
  }

  @Test("a request whose signature does not match its key is refused")
  func forgedRequest() throws {
    let ca = try CertificateAuthority.create(now: now)
    let honest = try CertificateSigningRequest(
      pemEncoded: try CertificateRequest(role: .agent, name: "web-1").pem)
    let other = try CertificateSigningRequest(
      pemEncoded: try CertificateRequest(role: .agent, name: "web-1").pem)
    // Another key, with the honest request's signature: whoever sent it does not hold it.
    let forged = try CertificateSigningRequest(
      version: honest.version, subject: honest.subject, publicKey: other.publicKey,
      attributes: honest.attributes, signatureAlgorithm: honest.signatureAlgorithm,
      signature: honest.signature)
    let error = #expect(throws: PKIError.self) {
      try ca.issue(
        requestPEM: try forged.serializeAsPEM().pemString, role: .agent, name: "web-1", now: now,
        validity: 60)
    }
    #expect(error?.message.contains("does not match its key") == true)
  }

  @Test("the CA's files: made once 0600, read back with the same fingerprint, half a pair refused")
  func caFiles() throws {
    let directory = NSTemporaryDirectory() + "pki-\(UInt64.random(in: 0...UInt64.max))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let first = try PKIFiles.authority(in: directory, now: now)
    #expect(first.created)
    let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/ca.key")
    #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    let directoryMode = try FileManager.default.attributesOfItem(atPath: directory)
    #expect((directoryMode[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    let second = try PKIFiles.authority(in: directory, now: now)
    #expect(!second.created)
    #expect(second.authority.fingerprint == first.authority.fingerprint)
    #expect(try Fingerprint.of(second.authority.certificate) == first.authority.fingerprint)
    try FileManager.default.removeItem(atPath: directory + "/ca.key")
    let half = #expect(throws: PKIError.self) { try PKIFiles.authority(in: directory, now: now) }
    #expect(half?.message.contains("only one of") == true)
  }

  @Test("a node keeps what the scheduler sent: the chain checked against the pinned CA and its key")
  func nodeCredentials() throws {
    let ca = try CertificateAuthority.create(now: now)
    let other = try CertificateAuthority.create(now: now)
    let request = try CertificateRequest(role: .agent, name: "web-1")
    let leaf = try ca.issue(
      requestPEM: request.pem, role: .agent, name: "web-1", now: now, validity: 3600)
    let chain = try leaf.pem + "\n" + ca.certificate.pem
    let credentials = try NodeCredentials(
      chainPEM: chain, key: request.key, expectedCA: ca.fingerprint)
    #expect(credentials.identity.name == "web-1" && credentials.keyMatches)
    #expect(throws: PKIError.self) {
      try NodeCredentials(chainPEM: chain, key: request.key, expectedCA: other.fingerprint)
    }
    let stranger = try CertificateRequest(role: .agent, name: "web-1")
    #expect(throws: PKIError.self) {
      try NodeCredentials(chainPEM: chain, key: stranger.key, expectedCA: ca.fingerprint)
    }
    let directory = NSTemporaryDirectory() + "node-\(UInt64.random(in: 0...UInt64.max))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    #expect(try NodeCredentials.load(from: directory) == nil)
    try credentials.save(to: directory)
    let loaded = try #require(try NodeCredentials.load(from: directory))
    #expect(loaded.identity == credentials.identity && loaded.keyMatches)
    let key = try FileManager.default.attributesOfItem(atPath: directory + "/node.key")
    #expect((key[.posixPermissions] as? NSNumber)?.intValue == 0o600)
  }
}
