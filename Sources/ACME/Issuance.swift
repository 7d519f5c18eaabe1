import Crypto
import Foundation
import SwiftASN1
import X509

/// One certificate for one host name, from order to PEM: authorizations proved over HTTP-01
/// (the token handed out by `present` before the CA is told to look), the order finalized with
/// a request for a new key, the chain downloaded. Each step says what failed.
public struct Issuance: Sendable {
  /// Hands the challenge `token` and its key authorization to whoever answers
  /// `/.well-known/acme-challenge/TOKEN` (every router), returning once all of them hold it.
  public typealias Present =
    @Sendable (_ token: String, _ keyAuthorization: String)
    async throws(ACMEError) -> Void
  /// Takes the token back once the CA has looked.
  public typealias Withdraw = @Sendable (_ token: String) async -> Void

  public let client: ACMEClient
  public let present: Present
  public let withdraw: Withdraw
  /// How long an authorization or an order may take to settle.
  public let timeout: Duration
  public let sleep: @Sendable (Duration) async -> Void

  public init(
    client: ACMEClient, present: @escaping Present, withdraw: @escaping Withdraw,
    timeout: Duration = .seconds(120),
    sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
  ) {
    self.client = client
    self.present = present
    self.withdraw = withdraw
    self.timeout = timeout
    self.sleep = sleep
  }

  /// What an issuance brings: the chain and the new key, both PEM.
  public struct Issued: Sendable {
    public var chainPEM: String
    public var keyPEM: String
  }

  public func obtain(_ name: String) async throws(ACMEError) -> Issued {
    let (orderURL, opened) = try await client.newOrder([name])
    for url in opened.authorizations {
      try await prove(url)
    }
    let certificateKey = P256.Signing.PrivateKey()
    let csr = try Self.request(for: name, key: certificateKey)
    var order = try await client.finalize(opened.finalize, csr: csr)
    var waited = Duration.zero
    while order.status == "processing" || order.status == "ready" || order.status == "pending" {
      guard waited < timeout else {
        throw ACMEError(
          .timedOut, "the order for \(name) was still \(order.status) after \(timeout)")
      }
      await sleep(.milliseconds(500))
      waited += .milliseconds(500)
      order = try await client.fetch(orderURL, as: ACMEOrder.self).0
    }
    guard order.status == "valid", let certificateURL = order.certificate else {
      throw ACMEError(
        .invalid,
        "the order for \(name) ended \(order.status)\(order.error.map { ": \($0.summary)" } ?? "")",
        problemType: order.error?.type)
    }
    let chain = try await client.download(certificateURL)
    return Issued(chainPEM: chain, keyPEM: certificateKey.pemRepresentation)
  }

  /// Proves one authorization with its HTTP-01 challenge.
  private func prove(_ url: String) async throws(ACMEError) {
    var (authorization, _) = try await client.fetch(url, as: ACMEAuthorization.self)
    let name = authorization.identifier.value
    if authorization.status == "valid" { return }
    guard authorization.status == "pending" else {
      throw ACMEError(.invalid, "the authorization for \(name) is \(authorization.status)")
    }
    guard let challenge = authorization.challenges.first(where: { $0.type == "http-01" }),
      let token = challenge.token
    else {
      throw ACMEError(
        .invalid,
        "the CA offers no http-01 challenge for \(name) (it offers \(authorization.challenges.map(\.type).joined(separator: ", ")))"
      )
    }
    do throws(ACMEError) {
      try await present(token, client.key.keyAuthorization(token))
      try await client.respond(challenge.url)
      var waited = Duration.zero
      while authorization.status == "pending" || authorization.status == "processing" {
        guard waited < timeout else {
          throw ACMEError(
            .timedOut, "the CA had not checked the challenge for \(name) after \(timeout)")
        }
        let (read, retryAfter) = try await client.fetch(url, as: ACMEAuthorization.self)
        authorization = read
        if authorization.status == "pending" || authorization.status == "processing" {
          let pause = Duration.milliseconds(Int(min(max(retryAfter ?? 0.5, 0.2), 5) * 1000))
          await sleep(pause)
          waited += pause
        }
      }
    } catch {
      await withdraw(token)
      throw error
    }
    await withdraw(token)
    guard authorization.status == "valid" else {
      let problem = authorization.challenges.first { $0.type == "http-01" }?.error
      throw ACMEError(
        .invalid,
        "the CA could not check http://\(name)/.well-known/acme-challenge/\(token): \(problem?.summary ?? "the authorization is \(authorization.status)")",
        problemType: problem?.type)
    }
  }

  /// A certificate request for `name`, signed by `key`, with the name in its
  /// subjectAltName as CAs require.
  static func request(for name: String, key: P256.Signing.PrivateKey) throws(ACMEError) -> Data {
    do {
      let extensions = try Certificate.Extensions {
        SubjectAlternativeNames([.dnsName(name)])
      }
      let request = try CertificateSigningRequest(
        version: .v1, subject: try DistinguishedName { CommonName(name) },
        privateKey: Certificate.PrivateKey(key),
        attributes: CertificateSigningRequest.Attributes([
          try .init(ExtensionRequest(extensions: extensions))
        ]),
        signatureAlgorithm: .ecdsaWithSHA256)
      var serializer = DER.Serializer()
      try serializer.serialize(request)
      return Data(serializer.serializedBytes)
    } catch {
      throw ACMEError(.crypto, "cannot make the certificate request for \(name): \(error)")
    }
  }
}
