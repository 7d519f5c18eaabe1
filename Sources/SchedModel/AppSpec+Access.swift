import Foundation

/// The rules of an app's secrets: names only, never values.
extension AppSpec {
  /// Secret names are variable names, each named once, none also a plain `env` variable.
  func validateSecrets() throws(ModelError) {
    var seen = Set<String>()
    for (field, names) in [("secrets", secrets), ("secret_files", secretFiles)] {
      for name in names {
        if let problem = Self.secretNameProblem(name) {
          throw ModelError(.invalidApp, "\(field): \(problem)")
        }
        guard seen.insert(name).inserted else {
          throw ModelError(.invalidApp, "\(field): '\(name)' is named twice")
        }
        guard env[name] == nil else {
          throw ModelError(
            .invalidApp,
            "\(field): '\(name)' is also in env; a value is either plain (env) or a secret, not both"
          )
        }
      }
    }
  }

  /// Why `name` cannot name a secret, or nil: letters, digits and `_`, not starting with a
  /// digit, at most 128 (an environment variable's name, and a file name under /run/secrets).
  public static func secretNameProblem(_ name: String) -> String? {
    let valid =
      (1...128).contains(name.count) && name.first.map { !$0.isNumber } == true
      && name.unicodeScalars.allSatisfy {
        ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
          || $0 == "_"
      }
    return valid
      ? nil
      : "'\(name)' is not a secret name: use letters, digits and '_', not starting with a digit (like DB_PASSWORD)"
  }
}

/// HTTPS for an app at the routers (each with `--tls-listen` and a certificate for the host).
public struct HTTPSSettings: Codable, Sendable, Hashable {
  /// Plain-HTTP requests get a 308 to the same URL over HTTPS.
  public var redirect: Bool
  /// The `Strict-Transport-Security` value HTTPS answers carry (like `max-age=31536000`).
  public var hsts: String?
  /// The scheduler obtains and renews a certificate for each of the app's `hosts` over ACME
  /// (it needs `schedd --acme-directory`; names with an uploaded certificate keep it until
  /// two thirds of its life).
  public var acme: Bool

  public init(redirect: Bool = false, hsts: String? = nil, acme: Bool = false) {
    self.redirect = redirect
    self.hsts = hsts
    self.acme = acme
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    redirect = try c.decodeIfPresent(Bool.self, forKey: .redirect) ?? false
    hsts = try c.decodeIfPresent(String.self, forKey: .hsts)
    acme = try c.decodeIfPresent(Bool.self, forKey: .acme) ?? false
  }

  /// `max-age=N` first, then only `includeSubDomains` or `preload`.
  public static func validHSTS(_ value: String) -> Bool {
    let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
    guard let first = parts.first, first.hasPrefix("max-age="),
      UInt64(first.dropFirst("max-age=".count)) != nil
    else { return false }
    return parts.dropFirst().allSatisfy { ["includeSubDomains", "preload"].contains($0) }
  }
}
