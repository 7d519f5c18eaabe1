import Foundation

/// A certificate routers serve HTTPS with, for one host name (or a wildcard `*.example.com`):
/// its chain (leaf first), its key, and what operators see of it. Only the scheduler and the
/// routers hold the key; no API answer carries it.
public struct EdgeCertificate: Codable, Sendable, Hashable {
  /// The host name routers choose it for (SNI), lowercase.
  public var name: String
  /// PEM, the leaf first, then the intermediates.
  public var chain: String
  /// PEM private key of the leaf.
  public var key: String
  public var notBefore: Date
  public var notAfter: Date
  /// The leaf's issuer, as a distinguished name.
  public var issuer: String
  /// `operator` (uploaded) or `acme` (obtained by the scheduler).
  public var source: String
  /// SHA-256 of the leaf's DER, lowercase hex.
  public var fingerprint: String

  public init(
    name: String, chain: String, key: String, notBefore: Date, notAfter: Date, issuer: String,
    source: String, fingerprint: String
  ) {
    self.name = name
    self.chain = chain
    self.key = key
    self.notBefore = notBefore
    self.notAfter = notAfter
    self.issuer = issuer
    self.source = source
    self.fingerprint = fingerprint
  }

  enum CodingKeys: String, CodingKey {
    case name, chain, key, issuer, source, fingerprint
    case notBefore = "not_before"
    case notAfter = "not_after"
  }

  /// The certificate for `host` among `certificates`: the exact name first, then a wildcard
  /// one level up (`*.example.com` serves `www.example.com`, not `example.com` or
  /// `a.b.example.com`).
  public static func choose(_ host: String, in certificates: [String: EdgeCertificate])
    -> EdgeCertificate?
  {
    let name = host.lowercased()
    if let exact = certificates[name] { return exact }
    guard let dot = name.firstIndex(of: "."), name[name.index(after: dot)...].contains(".") else {
      return nil
    }
    return certificates["*" + name[dot...]]
  }
}
