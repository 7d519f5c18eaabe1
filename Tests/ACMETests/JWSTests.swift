import ACME
import Crypto
import Foundation
import Testing

@Suite("JSON Web Signatures and key authorizations")
struct JWSTests {
  @Test("a signed body verifies with the account's public key; kid or jwk in the header")
  func signs() throws {
    let key = AccountKey()
    for kid in [nil, "https://ca.test/acct/1"] as [String?] {
      let body = try key.sign(
        payload: Data(#"{"a":1}"#.utf8), url: "https://ca.test/x", nonce: "N1", kid: kid)
      let jws = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
      let protected = try #require(jws["protected"].flatMap(Base64URL.decode))
      let header = try #require(
        try JSONSerialization.jsonObject(with: protected) as? [String: Any])
      #expect(header["alg"] as? String == "ES256")
      #expect(header["nonce"] as? String == "N1")
      #expect(header["url"] as? String == "https://ca.test/x")
      #expect(header["kid"] as? String == kid)
      #expect((header["jwk"] != nil) == (kid == nil))
      #expect(jws["payload"].flatMap(Base64URL.decode) == Data(#"{"a":1}"#.utf8))
      let signature = try P256.Signing.ECDSASignature(
        rawRepresentation: try #require(jws["signature"].flatMap(Base64URL.decode)))
      let signed = Data("\(jws["protected"]!).\(jws["payload"]!)".utf8)
      #expect(key.key.publicKey.isValidSignature(signature, for: signed))
      #expect(!AccountKey().key.publicKey.isValidSignature(signature, for: signed))
    }
  }

  @Test("POST-as-GET has an empty payload")
  func postAsGet() throws {
    let body = try AccountKey().sign(payload: nil, url: "u", nonce: "n", kid: "k")
    let jws = try #require(try JSONSerialization.jsonObject(with: body) as? [String: String])
    #expect(jws["payload"] == "")
  }

  @Test("the JWK holds the public point; the thumbprint is SHA-256 over it, base64url")
  func thumbprint() throws {
    let key = AccountKey()
    let jwk = try #require(
      try JSONSerialization.jsonObject(with: Data(key.jwk.utf8)) as? [String: String])
    #expect(Array(jwk.keys).sorted() == ["crv", "kty", "x", "y"])
    let point = try #require(Base64URL.decode(jwk["x"]!)) + Base64URL.decode(jwk["y"]!)!
    #expect(Data([4]) + point == key.key.publicKey.x963Representation)
    let digest = Data(SHA256.hash(data: Data(key.jwk.utf8)))
    #expect(Base64URL.decode(key.thumbprint) == digest)
    #expect(key.thumbprint.count == 43)
    #expect(key.keyAuthorization("tok") == "tok.\(key.thumbprint)")
    // The same key read back from PEM has the same thumbprint.
    #expect(try AccountKey(pem: key.pem).thumbprint == key.thumbprint)
  }

  @Test(
    "base64url has no padding and the URL alphabet",
    arguments: [
      (Data([0xfb, 0xff]), "-_8"), (Data([0x66]), "Zg"), (Data(), ""),
    ])
  func base64url(data: Data, text: String) {
    #expect(Base64URL.encode(data) == text)
    #expect(Base64URL.decode(text) == data)
  }
}
