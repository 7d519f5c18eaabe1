import Crypto
import Foundation
import SwiftASN1
import X509

/// Checks a certificate an operator gives for a host name before any router serves it: the
/// chain reads, the key is the leaf's, the leaf names the host (or a wildcard covering it), it
/// is valid now and not about to lapse. Pure but for the clock the caller passes.
public enum ServedCertificate {
  /// What operators see of a checked certificate.
  public struct Checked: Sendable, Equatable {
    public var notBefore: Date
    public var notAfter: Date
    public var issuer: String
    public var fingerprint: String
    /// The DNS names (and IP addresses, as text) in the leaf.
    public var names: [String]
  }

  public static func check(chainPEM: String, keyPEM: String, name: String, now: Date)
    throws(PKIError) -> Checked
  {
    let chain = try Certificate.chain(pem: chainPEM)
    let leaf = chain[0]
    let key: Certificate.PrivateKey
    do { key = try Certificate.PrivateKey(pemEncoded: keyPEM) } catch {
      throw PKIError(
        .badCertificate, "cannot read the key (an unencrypted PEM private key): \(error)")
    }
    guard key.publicKey == leaf.publicKey else {
      throw PKIError(
        .badCertificate, "the key does not belong to the first certificate of the chain")
    }
    let names = Self.names(of: leaf)
    guard names.contains(where: { Self.covers($0, name) }) else {
      throw PKIError(
        .badCertificate,
        "the certificate is for \(names.isEmpty ? "no DNS name" : names.joined(separator: ", ")), not \(name)"
      )
    }
    guard leaf.notValidAfter > now else {
      throw PKIError(
        .badCertificate,
        "the certificate expired on \(leaf.notValidAfter.formatted(.iso8601)); give a current one")
    }
    guard leaf.notValidBefore <= now.addingTimeInterval(300) else {
      throw PKIError(
        .badCertificate,
        "the certificate is not valid before \(leaf.notValidBefore.formatted(.iso8601)); is this host's clock right?"
      )
    }
    return Checked(
      notBefore: leaf.notValidBefore, notAfter: leaf.notValidAfter,
      issuer: leaf.issuer.description, fingerprint: try Fingerprint.of(leaf), names: names)
  }

  /// Whether a certificate name (perhaps `*.example.com`) covers host `name`.
  public static func covers(_ pattern: String, _ name: String) -> Bool {
    let pattern = pattern.lowercased()
    let name = name.lowercased()
    if pattern == name { return true }
    guard pattern.hasPrefix("*."), let dot = name.firstIndex(of: ".") else { return false }
    // A wildcard name is covered only by the same wildcard.
    return !name.hasPrefix("*") && String(name[dot...]) == String(pattern.dropFirst())
  }

  static func names(of certificate: Certificate) -> [String] {
    guard let alternatives = try? certificate.extensions.subjectAlternativeNames else { return [] }
    return alternatives.compactMap { name in
      if case .dnsName(let dns) = name { return dns.lowercased() }
      return nil
    }
  }
}
