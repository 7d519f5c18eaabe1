import Crypto
import X509

/// A node's side of getting a certificate: a new key that never leaves the node, and a signed
/// request for the CA.
public struct CertificateRequest: Sendable {
  public let key: P256.Signing.PrivateKey
  public let pem: String

  /// A new key and a request naming `name` and `role` (the scheduler decides what the
  /// certificate says; the request proves the key).
  public init(role: PeerIdentity.Role, name: String) throws(PKIError) {
    let key = P256.Signing.PrivateKey()
    do {
      let request = try CertificateSigningRequest(
        version: .v1,
        subject: try CertificateAuthority.distinguishedName(common: name, unit: role.rawValue),
        privateKey: Certificate.PrivateKey(key), attributes: CertificateSigningRequest.Attributes(),
        signatureAlgorithm: .ecdsaWithSHA256)
      self.key = key
      self.pem = try request.serializeAsPEM().pemString
    } catch let error as PKIError {
      throw error
    } catch {
      throw PKIError(.crypto, "cannot make a certificate request: \(error)")
    }
  }
}
