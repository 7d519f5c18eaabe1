import Foundation
import OperatorAPI
import SchedModel

/// Who may do what: API tokens, app secrets, and the certificates routers serve HTTPS with.
extension APIClient {
  /// Makes an API token; the answer holds the token, shown this once.
  public func createToken(name: String, role: OperatorRole) async throws(ClientError)
    -> TokenCreated
  {
    try await send(
      .POST, "/v1/tokens", body: CreateTokenRequest(name: name, role: role),
      as: TokenCreated.self)
  }

  /// The API tokens by name and role (never the tokens).
  public func tokens() async throws(ClientError) -> [TokenView] {
    try await get("/v1/tokens", as: TokensResponse.self).tokens
  }

  /// Revokes the API token named `name`.
  public func revokeToken(_ name: String) async throws(ClientError) {
    let path = name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name
    _ = try await send(
      .DELETE, "/v1/tokens/\(path)", body: Optional<String>.none, as: [String: String].self)
  }

  /// Sets a secret of `app` (the value goes in the request body, over the API's TLS when it
  /// has it; no answer carries it back).
  public func setSecret(app: String, name: String, value: String) async throws(ClientError) {
    _ = try await send(
      .PUT, "/v1/apps/\(Self.pathPart(app))/secrets/\(Self.pathPart(name))",
      body: SecretValue(value: value), as: [String: String].self)
  }

  /// The names of `app`'s secrets.
  public func secrets(app: String) async throws(ClientError) -> [String] {
    try await get("/v1/apps/\(Self.pathPart(app))/secrets", as: SecretsResponse.self).secrets
  }

  /// Removes a secret of `app`.
  public func removeSecret(app: String, name: String) async throws(ClientError) {
    _ = try await send(
      .DELETE, "/v1/apps/\(Self.pathPart(app))/secrets/\(Self.pathPart(name))",
      body: Optional<String>.none, as: [String: String].self)
  }

  /// The certificates routers serve HTTPS with (never their keys).
  public func certificates() async throws(ClientError) -> [CertificateView] {
    try await get("/v1/certificates", as: CertificatesResponse.self).certificates
  }

  /// The certificates and, when the scheduler runs ACME, the names it keeps certified.
  public func certificateStatus() async throws(ClientError) -> CertificatesResponse {
    try await get("/v1/certificates", as: CertificatesResponse.self)
  }

  /// An ACME order for `name` now; returns the new certificate once the CA issued it.
  public func renewCertificate(_ name: String) async throws(ClientError) -> CertificateView {
    try await execute(
      .POST, "/v1/certificates/\(Self.pathPart(name))/renew", body: nil,
      contentType: "application/json", timeout: .seconds(300), as: CertificateView.self)
  }

  public func certificate(_ name: String) async throws(ClientError) -> CertificateView {
    try await get("/v1/certificates/\(Self.pathPart(name))", as: CertificateView.self)
  }

  /// Gives routers `chain` (PEM, leaf first) and `key` for `name`.
  public func uploadCertificate(_ name: String, chain: String, key: String)
    async throws(ClientError) -> CertificateView
  {
    try await send(
      .PUT, "/v1/certificates/\(Self.pathPart(name))",
      body: CertificateUpload(chain: chain, key: key), as: CertificateView.self)
  }

  public func removeCertificate(_ name: String) async throws(ClientError) {
    _ = try await send(
      .DELETE, "/v1/certificates/\(Self.pathPart(name))", body: Optional<String>.none,
      as: [String: String].self)
  }

  static func pathPart(_ text: String) -> String {
    text.addingPercentEncoding(
      withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._")))
      ?? text
  }

  /// The name and role of the token this client uses.
  public func whoami() async throws(ClientError) -> WhoAmI {
    try await get("/v1/whoami", as: WhoAmI.self)
  }
}
