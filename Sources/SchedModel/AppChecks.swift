/// A test an app runs against its own image before a switch: a command in a throwaway
/// container of exactly the candidate's image, with companion containers (a database, a cache)
/// on a private network for that run only.
public struct TestSpec: Codable, Sendable, Hashable {
  public var name: String
  /// The command, as exec arguments (no shell unless it names one).
  public var command: [String]
  public var env: [String: String]
  public var timeoutMillis: Int64
  public var companions: [CompanionSpec]

  public init(
    name: String, command: [String], env: [String: String] = [:],
    timeoutMillis: Int64 = 300_000, companions: [CompanionSpec] = []
  ) {
    self.name = name
    self.command = command
    self.env = env
    self.timeoutMillis = timeoutMillis
    self.companions = companions
  }

  enum CodingKeys: String, CodingKey {
    case name, command, env, companions
    case timeoutMillis = "timeout_ms"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    command = try c.decode([String].self, forKey: .command)
    env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
    timeoutMillis = try c.decodeIfPresent(Int64.self, forKey: .timeoutMillis) ?? 300_000
    companions = try c.decodeIfPresent([CompanionSpec].self, forKey: .companions) ?? []
  }
}

/// A container a test needs beside it, reachable from the test by `name`.
public struct CompanionSpec: Codable, Sendable, Hashable {
  public var name: String
  public var image: String
  public var env: [String: String]
  /// Overrides the image's command when set.
  public var command: [String]?

  public init(name: String, image: String, env: [String: String] = [:], command: [String]? = nil) {
    self.name = name
    self.image = image
    self.env = env
    self.command = command
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    image = try c.decode(String.self, forKey: .image)
    env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
    command = try c.decodeIfPresent([String].self, forKey: .command)
  }
}

/// An infrastructure check run against every candidate slot, directly and through a router's
/// preview route: an HTTP request with expectations, or a TCP connect.
public struct CheckSpec: Codable, Sendable, Hashable {
  public var name: String
  /// Set for an HTTP check; nil for a TCP check.
  public var http: HTTPCheck?
  public var timeoutMillis: Int64

  public init(name: String, http: HTTPCheck?, timeoutMillis: Int64 = 2000) {
    self.name = name
    self.http = http
    self.timeoutMillis = timeoutMillis
  }

  public var isTCP: Bool { http == nil }

  enum CodingKeys: String, CodingKey {
    case name, http
    case timeoutMillis = "timeout_ms"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    http = try c.decodeIfPresent(HTTPCheck.self, forKey: .http)
    timeoutMillis = try c.decodeIfPresent(Int64.self, forKey: .timeoutMillis) ?? 2000
  }
}

/// What an HTTP check expects of `GET path`.
public struct HTTPCheck: Codable, Sendable, Hashable {
  public var path: String
  public var status: Int
  /// Text the body must contain.
  public var bodyContains: String?
  /// The answer must be complete within this long.
  public var maxLatencyMillis: Int64?

  public init(
    path: String, status: Int = 200, bodyContains: String? = nil, maxLatencyMillis: Int64? = nil
  ) {
    self.path = path
    self.status = status
    self.bodyContains = bodyContains
    self.maxLatencyMillis = maxLatencyMillis
  }

  enum CodingKeys: String, CodingKey {
    case path, status
    case bodyContains = "body_contains"
    case maxLatencyMillis = "max_latency_ms"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    path = try c.decode(String.self, forKey: .path)
    status = try c.decodeIfPresent(Int.self, forKey: .status) ?? 200
    bodyContains = try c.decodeIfPresent(String.self, forKey: .bodyContains)
    maxLatencyMillis = try c.decodeIfPresent(Int64.self, forKey: .maxLatencyMillis)
  }
}

extension AppSpec {
  /// The rules for `tests` and `checks`, with messages naming the field.
  func validateChecks() throws(ModelError) {
    func fail(_ field: String, _ message: String) -> ModelError {
      ModelError(.invalidApp, "\(field): \(message)")
    }
    func validName(_ name: String) -> Bool {
      !name.isEmpty && name.count <= 40 && name.first != "-"
        && name.unicodeScalars.allSatisfy {
          ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
        }
    }
    var testNames: Set<String> = []
    for (index, test) in tests.enumerated() {
      let field = "tests[\(index)]"
      guard validName(test.name) else {
        throw fail(
          "tests", "'\(test.name)' is not a valid test name: use lowercase letters, digits and '-'")
      }
      guard testNames.insert(test.name).inserted else {
        throw fail("tests", "two tests are named '\(test.name)'")
      }
      guard !test.command.isEmpty, !test.command[0].isEmpty else {
        throw fail(field, "command must not be empty")
      }
      guard test.timeoutMillis >= 1000 else { throw fail(field, "timeout must be at least 1s") }
      var companionNames: Set<String> = []
      for companion in test.companions {
        guard validName(companion.name) else {
          throw fail(
            "\(field).companions",
            "'\(companion.name)' is not a valid companion name: it becomes a host name; use lowercase letters, digits and '-'"
          )
        }
        guard companionNames.insert(companion.name).inserted else {
          throw fail("\(field).companions", "two companions are named '\(companion.name)'")
        }
        guard !companion.image.isEmpty, !companion.image.contains(" ") else {
          throw fail("\(field).companions", "'\(companion.name)' needs an image like db:16")
        }
      }
    }
    var checkNames: Set<String> = []
    for check in checks {
      guard validName(check.name) else {
        throw fail(
          "checks",
          "'\(check.name)' is not a valid check name: use lowercase letters, digits and '-'")
      }
      guard checkNames.insert(check.name).inserted else {
        throw fail("checks", "two checks are named '\(check.name)'")
      }
      if let http = check.http {
        guard http.path.hasPrefix("/") else {
          throw fail("checks", "\(check.name): path must start with '/'")
        }
        guard (100...599).contains(http.status) else {
          throw fail("checks", "\(check.name): status must be 100 to 599")
        }
      }
      guard check.timeoutMillis >= 10 else {
        throw fail("checks", "\(check.name): timeout must be at least 10ms")
      }
    }
  }
}
