import Crypto
import Foundation

/// An ACME account key (P-256) and the JSON Web Signatures every request carries
/// (RFC 8555 section 6.2, RFC 7515 flattened serialization, ES256).
public struct AccountKey: Sendable {
  public let key: P256.Signing.PrivateKey

  public init(_ key: P256.Signing.PrivateKey = P256.Signing.PrivateKey()) { self.key = key }

  public init(pem: String) throws(ACMEError) {
    do { key = try P256.Signing.PrivateKey(pemRepresentation: pem) } catch {
      throw ACMEError(.crypto, "the stored ACME account key does not read: \(error)")
    }
  }

  public var pem: String { key.pemRepresentation }

  /// The public key as a JWK, members in lexical order: the form RFC 7638 hashes.
  public var jwk: String {
    let point = key.publicKey.x963Representation.dropFirst()
    let x = Base64URL.encode(point.prefix(32))
    let y = Base64URL.encode(point.suffix(32))
    return #"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#
  }

  /// The RFC 7638 thumbprint: what key authorizations end with.
  public var thumbprint: String {
    Base64URL.encode(Data(SHA256.hash(data: Data(jwk.utf8))))
  }

  /// What an HTTP-01 challenge's URL must answer for `token`.
  public func keyAuthorization(_ token: String) -> String { "\(token).\(thumbprint)" }

  /// A signed request body for `url`: the key itself in the header (`kid` nil, for
  /// newAccount) or the account URL; `payload` nil is a POST-as-GET (an empty payload).
  public func sign(payload: Data?, url: String, nonce: String, kid: String?) throws(ACMEError)
    -> Data
  {
    let keyMember = kid.map { #""kid":\#(Self.quoted($0))"# } ?? #""jwk":\#(jwk)"#
    let header =
      #"{"alg":"ES256",\#(keyMember),"nonce":\#(Self.quoted(nonce)),"url":\#(Self.quoted(url))}"#
    let protected = Base64URL.encode(Data(header.utf8))
    let body = payload.map(Base64URL.encode) ?? ""
    let signature: P256.Signing.ECDSASignature
    do { signature = try key.signature(for: Data("\(protected).\(body)".utf8)) } catch {
      throw ACMEError(.crypto, "cannot sign an ACME request: \(error)")
    }
    let jws =
      #"{"protected":"\#(protected)","payload":"\#(body)","signature":"\#(Base64URL.encode(signature.rawRepresentation))"}"#
    return Data(jws.utf8)
  }

  /// A JSON string literal.
  static func quoted(_ text: String) -> String {
    let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
    return String(decoding: data, as: UTF8.self)
  }
}

/// Base64 with the URL alphabet and no padding (RFC 4648 section 5), as JOSE uses it.
public enum Base64URL {
  public static func encode<D: DataProtocol>(_ data: D) -> String {
    Data(data).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }

  public static func decode(_ text: String) -> Data? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(
      of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    return Data(base64Encoded: base64)
  }
}
