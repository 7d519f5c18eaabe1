import Foundation

/// What an API token may do. Each role includes the ones below it: `read` sees the cluster
/// (nodes, status, events, metrics, the dashboard), `deploy` also builds and moves traffic
/// (deploy, verify, switch, rollback, retire), `admin` also changes apps, nodes, images'
/// retention, registries, secrets and tokens.
public enum OperatorRole: String, Codable, Sendable, CaseIterable, Comparable {
  case read
  case deploy
  case admin

  private var rank: Int {
    switch self {
    case .read: 0
    case .deploy: 1
    case .admin: 2
    }
  }

  public static func < (lhs: OperatorRole, rhs: OperatorRole) -> Bool { lhs.rank < rhs.rank }

  /// Whether a token of this role may call a route that needs `needed`.
  public func permits(_ needed: OperatorRole) -> Bool { self >= needed }

  /// One line on what the role may do, for help texts and errors.
  public var summary: String {
    switch self {
    case .read: "see nodes, placement, apps, events, builds, metrics and the dashboard"
    case .deploy: "read, and build, deploy, verify, switch, roll back, retire and stop sets"
    case .admin: "deploy, and change apps, nodes, images, registries, secrets and tokens"
    }
  }
}

/// An operator's API token as the scheduler keeps it: its name (the event log's actor), its
/// role, and the SHA-256 of the token (the token itself is shown once, at creation).
public struct APITokenRecord: Codable, Sendable, Hashable {
  public var name: String
  public var role: OperatorRole
  /// Lowercase hex SHA-256 of the whole token.
  public var hash: String
  public var createdAt: Date
  /// The actor that created it.
  public var createdBy: String

  public init(
    name: String, role: OperatorRole, hash: String, createdAt: Date, createdBy: String
  ) {
    self.name = name
    self.role = role
    self.hash = hash
    self.createdAt = createdAt
    self.createdBy = createdBy
  }

  /// Why `name` cannot name a token, or nil when it can: 1 to 64 of `a-z 0-9 . _ -`, starting
  /// with a letter or digit.
  public static func problem(withName name: String) -> String? {
    let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")
    guard (1...64).contains(name.count), name.allSatisfy(allowed.contains),
      let first = name.first, first.isLetter || first.isNumber
    else {
      return
        "a token name is 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (like ci-deploy), not '\(name)'"
    }
    return nil
  }
}
