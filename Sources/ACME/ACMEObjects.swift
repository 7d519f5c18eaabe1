import Foundation

/// The CA's directory: where each kind of request goes (RFC 8555 section 7.1.1).
public struct ACMEDirectory: Codable, Sendable, Equatable {
  public var newNonce: String
  public var newAccount: String
  public var newOrder: String
  public var revokeCert: String?
  public var keyChange: String?
}

/// An identifier an order or authorization is for (`dns` and a host name here).
public struct ACMEIdentifier: Codable, Sendable, Equatable {
  public var type: String
  public var value: String

  public init(dns value: String) {
    type = "dns"
    self.value = value
  }
}

/// An RFC 7807 problem document as ACME servers send them.
public struct ACMEProblem: Codable, Sendable, Equatable {
  public var type: String?
  public var detail: String?
  public var status: Int?
  public var subproblems: [ACMEProblem]?

  /// The detail, then each subproblem's, on one line.
  public var summary: String {
    ([detail ?? type ?? "no detail given"] + (subproblems ?? []).map(\.summary))
      .joined(separator: "; ")
  }
}

/// An order: names wanted, the authorizations they need, where to finalize it and, once
/// valid, where its certificate is (section 7.1.3).
public struct ACMEOrder: Codable, Sendable, Equatable {
  public var status: String
  public var identifiers: [ACMEIdentifier]
  public var authorizations: [String]
  public var finalize: String
  public var certificate: String?
  public var error: ACMEProblem?
}

/// The proof owed for one name (section 7.1.4).
public struct ACMEAuthorization: Codable, Sendable, Equatable {
  public var status: String
  public var identifier: ACMEIdentifier
  public var challenges: [ACMEChallenge]
  public var wildcard: Bool?
}

/// One way to give that proof (section 7.1.5, 8.3).
public struct ACMEChallenge: Codable, Sendable, Equatable {
  public var type: String
  public var url: String
  public var status: String
  public var token: String?
  public var error: ACMEProblem?
}

/// What the transport brings back: the status, the headers (names in lower case) and the body.
public struct ACMEResponse: Sendable {
  public var status: Int
  public var headers: [String: String]
  public var body: Data

  public init(status: Int, headers: [String: String], body: Data) {
    self.status = status
    self.headers = Dictionary(
      headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    self.body = body
  }

  /// Seconds the CA asks to wait before polling again, if it said.
  public var retryAfter: Double? {
    headers["retry-after"].flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
  }
}

/// HTTP as the ACME client needs it; the real one speaks HTTPS to the CA, tests pass a fake.
public protocol ACMETransport: Sendable {
  /// `body` nil is a GET (or HEAD when `head`); otherwise a POST of `application/jose+json`.
  func send(_ url: String, body: Data?, head: Bool) async throws(ACMEError) -> ACMEResponse
}
