import ClusterPKI
import Crypto
import Foundation
import SchedModel
import Testing

/// The checks an operator's certificate passes before routers serve it, and how routers
/// choose one by name.
@Suite("Served certificates")
struct ServedCertificateTests {
  let authority = try! CertificateAuthority.create(now: Date())

  func pair(_ names: [String], issued: Date = Date(), validity: TimeInterval = 3600) throws -> (
    chain: String, key: String
  ) {
    let key = P256.Signing.PrivateKey()
    let certificate = try authority.issueServer(
      key: key.publicKey, names: names, now: issued, validity: validity)
    return (try certificate.pem + authority.certificate.pem, key.pemRepresentation)
  }

  @Test("a good certificate: its dates, issuer, names and fingerprint")
  func good() throws {
    let (chain, key) = try pair(["www.example.com"])
    let checked = try ServedCertificate.check(
      chainPEM: chain, keyPEM: key, name: "www.example.com", now: Date())
    #expect(checked.names == ["www.example.com"])
    #expect(checked.issuer.contains("Turnout cluster CA"))
    #expect(checked.fingerprint.count == 64)
    #expect(checked.notAfter > Date())
  }

  @Test("refused: another name, expired, not yet valid, a key of another certificate, not PEM")
  func refusals() throws {
    let (chain, key) = try pair(["www.example.com"])
    func problem(_ chain: String, _ key: String, _ name: String = "www.example.com") -> String? {
      do {
        _ = try ServedCertificate.check(chainPEM: chain, keyPEM: key, name: name, now: Date())
        return nil
      } catch { return error.message }
    }
    #expect(problem(chain, key, "api.example.com")?.contains("not api.example.com") == true)
    let old = try pair(["www.example.com"], issued: Date().addingTimeInterval(-7200))
    #expect(problem(old.chain, old.key)?.contains("expired") == true)
    let future = try pair(["www.example.com"], issued: Date().addingTimeInterval(86400))
    #expect(problem(future.chain, future.key)?.contains("not valid before") == true)
    let stranger = try pair(["www.example.com"])
    #expect(problem(chain, stranger.key)?.contains("does not belong") == true)
    #expect(problem("not a certificate", key) != nil)
  }

  @Test("a wildcard covers one level below it, nothing else")
  func wildcard() throws {
    let (chain, key) = try pair(["*.example.com"])
    #expect(
      (try? ServedCertificate.check(
        chainPEM: chain, keyPEM: key, name: "www.example.com", now: Date()))
        != nil)
    #expect(ServedCertificate.covers("*.example.com", "*.example.com"))
    #expect(!ServedCertificate.covers("*.example.com", "example.com"))
    #expect(!ServedCertificate.covers("*.example.com", "a.b.example.com"))
    #expect(!ServedCertificate.covers("www.example.com", "api.example.com"))
  }

  @Test("routers choose the exact name first, then the wildcard one level up")
  func choose() {
    func certificate(_ name: String) -> EdgeCertificate {
      EdgeCertificate(
        name: name, chain: "", key: "", notBefore: Date(), notAfter: Date(), issuer: "",
        source: "operator", fingerprint: name)
    }
    let table = [
      "www.example.com": certificate("www.example.com"),
      "*.example.com": certificate("*.example.com"),
    ]
    #expect(EdgeCertificate.choose("WWW.example.com", in: table)?.name == "www.example.com")
    #expect(EdgeCertificate.choose("api.example.com", in: table)?.name == "*.example.com")
    #expect(EdgeCertificate.choose("example.com", in: table) == nil)
    #expect(EdgeCertificate.choose("a.api.example.com", in: table) == nil)
  }
}
