import Foundation
import SchedModel

/// `POST /v1/tokens`: a new API token for an operator or a tool.
public struct CreateTokenRequest: Codable, Sendable, Equatable {
  public var name: String
  public var role: OperatorRole

  public init(name: String, role: OperatorRole) {
    self.name = name
    self.role = role
  }
}

/// The answer to `POST /v1/tokens`: the token itself, shown this once (the scheduler keeps
/// only its hash).
public struct TokenCreated: Codable, Sendable, Equatable {
  public var name: String
  public var role: OperatorRole
  public var token: String

  public init(name: String, role: OperatorRole, token: String) {
    self.name = name
    self.role = role
    self.token = token
  }
}

/// One API token as `GET /v1/tokens` lists it: never the token or its hash.
public struct TokenView: Codable, Sendable, Equatable {
  public var name: String
  public var role: OperatorRole
  public var createdAt: Date?
  public var createdBy: String
  /// The token schedd was started with (`--api-token`): an admin token that lives in the
  /// scheduler's configuration, not in its database.
  public var bootstrap: Bool

  public init(
    name: String, role: OperatorRole, createdAt: Date?, createdBy: String, bootstrap: Bool
  ) {
    self.name = name
    self.role = role
    self.createdAt = createdAt
    self.createdBy = createdBy
    self.bootstrap = bootstrap
  }
}

/// `GET /v1/tokens`.
public struct TokensResponse: Codable, Sendable, Equatable {
  public var tokens: [TokenView]

  public init(tokens: [TokenView]) { self.tokens = tokens }
}

/// `GET /v1/whoami`: the token a request was made with.
public struct WhoAmI: Codable, Sendable, Equatable {
  public var name: String
  public var role: OperatorRole

  public init(name: String, role: OperatorRole) {
    self.name = name
    self.role = role
  }
}

/// `PUT /v1/apps/APP/secrets/NAME`: a secret's value (the only place it is ever sent to the
/// API; no answer carries it back).
public struct SecretValue: Codable, Sendable, Equatable {
  public var value: String

  public init(value: String) { self.value = value }
}

/// `GET /v1/apps/APP/secrets`: the names of the app's secrets, never their values.
public struct SecretsResponse: Codable, Sendable, Equatable {
  public var app: String
  public var secrets: [String]

  public init(app: String, secrets: [String]) {
    self.app = app
    self.secrets = secrets
  }
}

/// A certificate routers serve HTTPS with, as operators see it (never its key).
public struct CertificateView: Codable, Sendable, Equatable {
  public var name: String
  public var issuer: String
  public var notBefore: Date
  public var notAfter: Date
  /// `operator` (uploaded) or `acme`.
  public var source: String
  public var fingerprint: String

  public init(
    name: String, issuer: String, notBefore: Date, notAfter: Date, source: String,
    fingerprint: String
  ) {
    self.name = name
    self.issuer = issuer
    self.notBefore = notBefore
    self.notAfter = notAfter
    self.source = source
    self.fingerprint = fingerprint
  }
}

/// `PUT /v1/certificates/NAME`: an operator's certificate chain (leaf first) and its key, PEM.
public struct CertificateUpload: Codable, Sendable, Equatable {
  public var chain: String
  public var key: String

  public init(chain: String, key: String) {
    self.chain = chain
    self.key = key
  }
}

/// `GET /v1/certificates`: the certificates, and the names the scheduler keeps certified over
/// ACME (empty when it has no ACME directory).
public struct CertificatesResponse: Codable, Sendable, Equatable {
  public var certificates: [CertificateView]
  public var acme: [ACMENameView]

  public init(certificates: [CertificateView], acme: [ACMENameView] = []) {
    self.certificates = certificates
    self.acme = acme
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    certificates = try c.decode([CertificateView].self, forKey: .certificates)
    acme = try c.decodeIfPresent([ACMENameView].self, forKey: .acme) ?? []
  }
}

/// A host name whose certificate the scheduler obtains and renews over ACME.
public struct ACMENameView: Codable, Sendable, Equatable {
  public var name: String
  /// The app whose `hosts` name it.
  public var app: String
  /// `valid` (its certificate serves), `pending` (none yet), `failing` (the last try failed).
  public var state: String
  /// When the next order is due: the renewal at two thirds of the life, or the next retry.
  public var nextAttempt: Date?
  /// Failed tries since the last success.
  public var failures: Int
  public var lastError: String?

  public init(
    name: String, app: String, state: String, nextAttempt: Date?, failures: Int,
    lastError: String?
  ) {
    self.name = name
    self.app = app
    self.state = state
    self.nextAttempt = nextAttempt
    self.failures = failures
    self.lastError = lastError
  }
}
