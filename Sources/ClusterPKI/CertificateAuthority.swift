import Crypto
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
  import Glibc
#endif

/// The cluster's certificate authority: a self-signed P-256 root that signs the scheduler's
/// certificate and one certificate per node and router. Pure: the caller keeps the key on disk
/// (`PKIFiles`) and says what time it is.
public struct CertificateAuthority: Sendable {
  /// The DNS name in the scheduler's certificate, checked by every node: the identity is "the
  /// scheduler of this CA", whatever address a node dials.
  public static let schedulerName = "turnout-scheduler"

  public let certificate: Certificate
  let key: P256.Signing.PrivateKey

  /// The CA certificate's fingerprint, as join tokens carry it.
  public let fingerprint: String

  init(certificate: Certificate, key: P256.Signing.PrivateKey) throws(PKIError) {
    self.certificate = certificate
    self.key = key
    self.fingerprint = try Fingerprint.of(certificate)
  }

  /// A new root, valid for `validity` from `now` (back-dated a minute for clocks a little off).
  public static func create(now: Date, validity: TimeInterval = 10 * 365 * 86400) throws(PKIError)
    -> CertificateAuthority
  {
    let key = P256.Signing.PrivateKey()
    let name = try distinguishedName(
      common: "Turnout cluster CA \(JoinToken.randomSecret().prefix(8))", unit: nil)
    do {
      let certificate = try Certificate(
        version: .v3, serialNumber: Certificate.SerialNumber(),
        publicKey: Certificate.PublicKey(key.publicKey),
        notValidBefore: now.addingTimeInterval(-60),
        notValidAfter: now.addingTimeInterval(validity),
        issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
        extensions: try Certificate.Extensions {
          Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
          Critical(KeyUsage(keyCertSign: true, cRLSign: true))
        }, issuerPrivateKey: Certificate.PrivateKey(key))
      return try CertificateAuthority(certificate: certificate, key: key)
    } catch let error as PKIError {
      throw error
    } catch {
      throw PKIError(.crypto, "cannot make the cluster CA: \(error)")
    }
  }

  /// A CA read back from its certificate and key (PEM).
  public init(certificatePEM: String, keyPEM: String) throws(PKIError) {
    let certificate: Certificate
    let key: P256.Signing.PrivateKey
    do {
      certificate = try Certificate(pemEncoded: certificatePEM)
      key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
    } catch {
      throw PKIError(.badCertificate, "cannot read the cluster CA's certificate or key: \(error)")
    }
    guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
      throw PKIError(.badCertificate, "the CA key does not belong to the CA certificate")
    }
    try self.init(certificate: certificate, key: key)
  }

  public var keyPEM: String { key.pemRepresentation }

  /// Signs a node's or router's request: the certificate names `name` and `role` as the
  /// scheduler decided them, whatever the request asked for; only its key is taken, after its
  /// signature is checked (the requester holds the private key, which never leaves it).
  public func issue(
    requestPEM: String, role: PeerIdentity.Role, name: String, now: Date, validity: TimeInterval
  ) throws(PKIError) -> Certificate {
    let request: CertificateSigningRequest
    do { request = try CertificateSigningRequest(pemEncoded: requestPEM) } catch {
      throw PKIError(.badRequest, "cannot read the certificate request: \(error)")
    }
    guard request.publicKey.isValidSignature(request.signature, for: request) else {
      throw PKIError(.badRequest, "the certificate request's signature does not match its key")
    }
    return try sign(
      publicKey: request.publicKey, role: role, name: name, now: now, validity: validity,
      extensions: {
        try Certificate.Extensions {
          Critical(BasicConstraints.notCertificateAuthority)
          Critical(KeyUsage(digitalSignature: true))
          try ExtendedKeyUsage([.clientAuth])
        }
      })
  }

  /// The scheduler's own certificate for `key`: server and client use, named
  /// `schedulerName`.
  public func issueScheduler(
    key: P256.Signing.PublicKey, now: Date, validity: TimeInterval
  ) throws(PKIError) -> Certificate {
    try sign(
      publicKey: Certificate.PublicKey(key), role: .scheduler, name: Self.schedulerName, now: now,
      validity: validity,
      extensions: {
        try Certificate.Extensions {
          Critical(BasicConstraints.notCertificateAuthority)
          Critical(KeyUsage(digitalSignature: true))
          try ExtendedKeyUsage([.serverAuth, .clientAuth])
          SubjectAlternativeNames([.dnsName(Self.schedulerName)])
        }
      })
  }

  /// A server certificate for the operator API on `names` (DNS names or IP addresses), for
  /// clients that trust the cluster CA (`schedctl --ca-file`).
  public func issueServer(
    key: P256.Signing.PublicKey, names: [String], now: Date, validity: TimeInterval
  ) throws(PKIError) -> Certificate {
    guard !names.isEmpty else { throw PKIError(.badRequest, "a server certificate needs a name") }
    var alternatives: [GeneralName] = []
    for name in names {
      if let bytes = Self.ipAddressBytes(name) {
        alternatives.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
      } else {
        alternatives.append(.dnsName(name))
      }
    }
    let sans = alternatives
    return try sign(
      publicKey: Certificate.PublicKey(key), role: .scheduler, name: names[0], now: now,
      validity: validity,
      extensions: {
        try Certificate.Extensions {
          Critical(BasicConstraints.notCertificateAuthority)
          Critical(KeyUsage(digitalSignature: true))
          try ExtendedKeyUsage([.serverAuth])
          SubjectAlternativeNames(sans)
        }
      })
  }

  /// The 4 or 16 bytes of an IPv4 or IPv6 address, or nil for anything else.
  static func ipAddressBytes(_ text: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 {
      return withUnsafeBytes(of: &v4) { Array($0) }
    }
    var v6 = in6_addr()
    let bare =
      text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
    if inet_pton(AF_INET6, bare, &v6) == 1 {
      return withUnsafeBytes(of: &v6) { Array($0) }
    }
    return nil
  }

  private func sign(
    publicKey: Certificate.PublicKey, role: PeerIdentity.Role, name: String, now: Date,
    validity: TimeInterval, extensions: () throws -> Certificate.Extensions
  ) throws(PKIError) -> Certificate {
    let subject = try Self.distinguishedName(common: name, unit: role.rawValue)
    // Back-dated for clocks a little off: a minute, or a tenth of a short lifetime.
    let backdate = min(60, validity / 10)
    do {
      return try Certificate(
        version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
        notValidBefore: now.addingTimeInterval(-backdate),
        notValidAfter: min(now.addingTimeInterval(validity), certificate.notValidAfter),
        issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
        extensions: try extensions(), issuerPrivateKey: Certificate.PrivateKey(key))
    } catch {
      throw PKIError(.crypto, "cannot sign a certificate for \(role.rawValue) '\(name)': \(error)")
    }
  }

  static func distinguishedName(common: String, unit: String?) throws(PKIError)
    -> DistinguishedName
  {
    do {
      return try DistinguishedName {
        OrganizationName("Turnout")
        if let unit { OrganizationalUnitName(unit) }
        CommonName(common)
      }
    } catch {
      throw PKIError(.badCertificate, "cannot name '\(common)' in a certificate: \(error)")
    }
  }
}
