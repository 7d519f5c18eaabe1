import ACME
import Crypto
import Foundation
import SwiftASN1
import Synchronization
import Testing
import X509

@Suite("ACME issuance against a strict fake CA")
struct IssuanceTests {
  let key = AccountKey()

  /// What the issuance handed out and took back, in order.
  final class Events: Sendable {
    let list = Mutex<[String]>([])
    func add(_ event: String) { list.withLock { $0.append(event) } }
    var all: [String] { list.withLock { $0 } }
  }

  func issuance(_ ca: FakeCA, presented: Bool = true) -> (Issuance, Events) {
    let events = Events()
    let client = ACMEClient(
      directoryURL: "\(ca.base)/directory", key: key, contact: ["mailto:ops@example.test"],
      transport: ca)
    let issuance = Issuance(
      client: client,
      present: { token, keyAuthorization in
        events.add("present \(token)")
        if presented { ca.presentedToken(token, keyAuthorization) }
      },
      withdraw: { token in events.add("withdraw \(token)") },
      timeout: .seconds(2), sleep: { _ in })
    return (issuance, events)
  }

  @Test("an order goes from account to PEM; the token is out before the CA looks, and taken back")
  func happyPath() async throws {
    let ca = FakeCA(key: key)
    let (issuance, events) = issuance(ca)
    let issued = try await issuance.obtain("www.example.test")
    #expect(issued.chainPEM.contains("BEGIN CERTIFICATE"))
    #expect(events.all == ["present tok1", "withdraw tok1"])
    let log = ca.state.withLock { $0.log }
    #expect(log.firstIndex(of: "/chall/1")! < log.firstIndex(of: "/finalize/1")!)
    // The request names the host in its subjectAltName and is signed by the key returned.
    let der = try #require(ca.state.withLock { $0.finalizedCSR })
    let csr = try CertificateSigningRequest(derEncoded: Array(der))
    let requested = try #require(try csr.attributes.extensionRequest).extensions
    #expect(
      Array(try #require(try requested.subjectAlternativeNames)) == [.dnsName("www.example.test")])
    let certificateKey = try P256.Signing.PrivateKey(pemRepresentation: issued.keyPEM)
    #expect(csr.publicKey == Certificate.PublicKey(certificateKey.publicKey))
    #expect(csr.publicKey != Certificate.PublicKey(key.key.publicKey))
  }

  @Test("badNonce answers are retried with the fresh nonce they carry")
  func badNonceRetried() async throws {
    let ca = FakeCA(key: key)
    ca.state.withLock { $0.badNonces = 3 }
    let (issuance, _) = issuance(ca)
    _ = try await issuance.obtain("www.example.test")
    #expect(ca.state.withLock { $0.badNonces } == 0)
  }

  @Test("an account the CA forgot is registered again and the request goes on")
  func forgottenAccount() async throws {
    let ca = FakeCA(key: key)
    let (issuance, _) = issuance(ca)
    _ = try await issuance.client.registered()
    ca.state.withLock { $0.forgetAccounts = true }
    _ = try await issuance.obtain("www.example.test")
    #expect(ca.state.withLock { $0.accounts.count } == 1)
  }

  @Test("a token the answering side never got fails the order with the CA's reason")
  func tokenMissing() async throws {
    let ca = FakeCA(key: key)
    let (issuance, events) = issuance(ca, presented: false)
    await #expect {
      _ = try await issuance.obtain("www.example.test")
    } throws: { error in
      guard let error = error as? ACMEError else { return false }
      return error.code == .invalid && error.message.contains("404 at the challenge URL")
        && error.message.contains("/.well-known/acme-challenge/tok1")
    }
    #expect(events.all == ["present tok1", "withdraw tok1"])
  }

  @Test("a CA that cannot be reached says so, naming the directory")
  func unreachable() async throws {
    struct Down: ACMETransport {
      func send(_ url: String, body: Data?, head: Bool) async throws(ACMEError) -> ACMEResponse {
        throw ACMEError(.unreachable, "cannot reach \(url): connection refused")
      }
    }
    let client = ACMEClient(
      directoryURL: "https://ca.test/directory", key: key, transport: Down())
    let issuance = Issuance(client: client, present: { _, _ in }, withdraw: { _ in })
    await #expect {
      _ = try await issuance.obtain("www.example.test")
    } throws: { error in
      (error as? ACMEError)?.message.contains("https://ca.test/directory") == true
    }
  }
}
