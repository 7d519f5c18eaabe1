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
