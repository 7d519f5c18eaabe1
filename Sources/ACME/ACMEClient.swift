import Foundation

/// One ACME account at one CA: the directory, a pool of nonces, signed requests with the
/// retries RFC 8555 calls for (a `badNonce` is retried with the fresh nonce it carries), and
/// the account registered on first use (and again if the CA forgot it).
public actor ACMEClient {
  public let directoryURL: String
  let transport: any ACMETransport
  public nonisolated let key: AccountKey
  let contact: [String]
  private var directory: ACMEDirectory?
  private var nonces: [String] = []
  /// The account's URL (`kid`), once registered.
  public private(set) var account: String?

  public init(
    directoryURL: String, key: AccountKey, account: String? = nil, contact: [String] = [],
    transport: any ACMETransport
  ) {
    self.directoryURL = directoryURL
    self.key = key
    self.account = account
    self.contact = contact
    self.transport = transport
  }

  // MARK: requests

  func loadDirectory() async throws(ACMEError) -> ACMEDirectory {
    if let directory { return directory }
    let response = try await transport.send(directoryURL, body: nil, head: false)
    guard response.status == 200 else {
      throw Self.failure(response, doing: "read the ACME directory at \(directoryURL)")
    }
    let read: ACMEDirectory = try Self.decode(response, "the ACME directory at \(directoryURL)")
    directory = read
    return read
  }

  private func nonce() async throws(ACMEError) -> String {
    if let nonce = nonces.popLast() { return nonce }
    let url = try await loadDirectory().newNonce
    let response = try await transport.send(url, body: nil, head: true)
    guard let nonce = response.headers["replay-nonce"] else {
      throw ACMEError(.badResponse, "the CA gave no Replay-Nonce at \(url)")
    }
    return nonce
  }

  /// Signs and sends `payload` to `url` (nil: POST-as-GET). A `badNonce` is retried up to
  /// four times; with `kid` false the key itself goes in the header (newAccount only).
  func post(_ url: String, payload: Data?, kid useKid: Bool = true, doing: String)
    async throws(ACMEError) -> ACMEResponse
  {
    var attempt = 0
    while true {
      attempt += 1
      let kid = useKid ? try await registered() : nil
      let body = try key.sign(payload: payload, url: url, nonce: try await nonce(), kid: kid)
      let response = try await transport.send(url, body: body, head: false)
      if let fresh = response.headers["replay-nonce"] { nonces.append(fresh) }
      if response.status < 400 { return response }
      let failure = Self.failure(response, doing: doing)
      if failure.shortProblem == "badNonce", attempt < 5 { continue }
      if failure.shortProblem == "accountDoesNotExist", useKid, attempt < 5 {
        // The CA lost the account (a test CA restarted, or it was deactivated): register again.
        account = nil
        continue
      }
      throw failure
    }
  }

  /// The account URL, registering the key with the CA first if needed (an existing account
  /// for the key is simply found again).
  public func registered() async throws(ACMEError) -> String {
    if let account { return account }
    let url = try await loadDirectory().newAccount
    var fields: [String: Any] = ["termsOfServiceAgreed": true]
    if !contact.isEmpty { fields["contact"] = contact }
    let payload = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
    let response = try await post(url, payload: payload, kid: false, doing: "register an account")
    guard let location = response.headers["location"] else {
      throw ACMEError(.badResponse, "the CA registered the account but gave no Location")
    }
    account = location
    return location
  }

  // MARK: orders

  /// Opens an order for `names`: its URL and the order.
  public func newOrder(_ names: [String]) async throws(ACMEError) -> (url: String, ACMEOrder) {
    let url = try await loadDirectory().newOrder
    let payload = try? JSONEncoder().encode(["identifiers": names.map(ACMEIdentifier.init(dns:))])
    let response = try await post(url, payload: payload, doing: "open an order for \(names)")
    guard let location = response.headers["location"] else {
      throw ACMEError(.badResponse, "the CA opened an order but gave no Location")
    }
    return (location, try Self.decode(response, "the order"))
  }

  /// Reads an object by POST-as-GET, with the CA's Retry-After if it gave one.
  public func fetch<T: Decodable>(_ url: String, as type: T.Type) async throws(ACMEError) -> (
    T, retryAfter: Double?
  ) {
    let response = try await post(url, payload: nil, doing: "read \(url)")
    return (try Self.decode(response, url), response.retryAfter)
  }

  /// Tells the CA the challenge at `url` is ready to be checked.
  public func respond(_ url: String) async throws(ACMEError) {
    _ = try await post(url, payload: Data("{}".utf8), doing: "start the challenge")
  }

  /// Sends the certificate request (DER) to the order's finalize URL.
  public func finalize(_ url: String, csr: Data) async throws(ACMEError) -> ACMEOrder {
    let payload = try? JSONEncoder().encode(["csr": Base64URL.encode(csr)])
    let response = try await post(url, payload: payload, doing: "finalize the order")
    return try Self.decode(response, "the finalized order")
  }

  /// The certificate chain at `url`, as PEM.
  public func download(_ url: String) async throws(ACMEError) -> String {
    let response = try await post(url, payload: nil, doing: "download the certificate")
    let pem = String(decoding: response.body, as: UTF8.self)
    guard pem.contains("-----BEGIN CERTIFICATE-----") else {
      throw ACMEError(.badResponse, "the CA's certificate at \(url) is not a PEM chain")
    }
    return pem
  }

  // MARK: reading answers

  static func decode<T: Decodable>(_ response: ACMEResponse, _ what: String) throws(ACMEError)
    -> T
  {
    do { return try JSONDecoder().decode(T.self, from: response.body) } catch {
      throw ACMEError(
        .badResponse,
        "cannot read \(what) (HTTP \(response.status)): \(String(decoding: response.body.prefix(200), as: UTF8.self))"
      )
    }
  }

  /// The CA's refusal as an error: its problem document when it sent one.
  static func failure(_ response: ACMEResponse, doing: String) -> ACMEError {
    if let problem = try? JSONDecoder().decode(ACMEProblem.self, from: response.body),
      problem.type != nil || problem.detail != nil
    {
      return ACMEError(
        .problem,
        "the CA refused to \(doing): \(problem.summary) (\(problem.type ?? "HTTP \(response.status)"))",
        problemType: problem.type)
    }
    return ACMEError(
      .badResponse,
      "the CA answered HTTP \(response.status) when asked to \(doing): \(String(decoding: response.body.prefix(200), as: UTF8.self))"
    )
  }
}
