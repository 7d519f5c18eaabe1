import ClusterPKI
import Crypto
import Foundation
import SchedModel
import SchedStore
import Synchronization

/// Sealing of secrets at rest: AES-256-GCM under a key kept outside the database (a file of
/// its own, 0600), the secret's app and name bound in as authenticated data so a sealed value
/// cannot be moved to another name. A database copied without the key reveals nothing.
struct SecretSeal: Sendable {
  static let version = "v1:"
  let key: SymmetricKey

  /// The key of a scheduler without a key file (an in-memory database): one per process, so
  /// a scheduler restarted in the same process on the same store still opens its values.
  static let processKey = SecretSeal(key: SymmetricKey(size: .bits256))

  /// The key in `path`, made (32 random bytes, 0600) when the file does not exist yet.
  static func load(path: String) throws(SchedulerError) -> SecretSeal {
    let url = URL(fileURLWithPath: path)
    if let data = try? Data(contentsOf: url) {
      guard data.count == 32 else {
        throw SchedulerError(
          .config,
          "\(path) is not a secrets key (32 bytes, it holds \(data.count)): restore it from the backup made with the database; without it the app secrets cannot be read"
        )
      }
      return SecretSeal(key: SymmetricKey(data: data))
    }
    let key = SymmetricKey(size: .bits256)
    do {
      try PKIFiles.write(key.withUnsafeBytes { Data($0) }, to: path, mode: 0o600)
    } catch {
      throw SchedulerError(.config, "cannot make the secrets key \(path): \(error.message)")
    }
    return SecretSeal(key: key)
  }

  func seal(_ value: String, app: String, name: String) throws(SchedulerError) -> String {
    do {
      let box = try AES.GCM.seal(
        Data(value.utf8), using: key, authenticating: Data("\(app)/\(name)".utf8))
      guard let combined = box.combined else {
        throw SchedulerError(.config, "cannot seal a secret")
      }
      return Self.version + combined.base64EncodedString()
    } catch let error as SchedulerError {
      throw error
    } catch {
      throw SchedulerError(.config, "cannot seal a secret: \(error)")
    }
  }

  /// A value for the store's secrets table under (scope, name): sealed with both bound in.
  func sealStored(_ value: String, scope: String, name: String) throws(SchedulerError) -> String {
    try seal(value, app: scope, name: name)
  }

  /// A value read from the store's secrets table; one written before values were sealed (no
  /// `v1:`) is taken as it is, and sealed at its next change.
  func openStored(_ stored: String, scope: String, name: String) throws(SchedulerError) -> String {
    stored.hasPrefix(Self.version) ? try open(stored, app: scope, name: name) : stored
  }

  func open(_ sealed: String, app: String, name: String) throws(SchedulerError) -> String {
    guard sealed.hasPrefix(Self.version),
      let data = Data(base64Encoded: String(sealed.dropFirst(Self.version.count)))
    else {
      throw SchedulerError(.config, "secret \(name) of \(app) is not sealed by this scheduler")
    }
    do {
      let box = try AES.GCM.SealedBox(combined: data)
      let plain = try AES.GCM.open(box, using: key, authenticating: Data("\(app)/\(name)".utf8))
      return String(decoding: plain, as: UTF8.self)
    } catch {
      throw SchedulerError(
        .config,
        "secret \(name) of \(app) does not open with this secrets key (another key, or the database was edited): set it again with schedctl secret set"
      )
    }
  }
}

/// The apps' secrets, with one owner: sealed in the store (scope `app-secret/APP`), opened
/// only to hand them to the nodes that run the app, and known here so that text leaving the
/// scheduler (test output) can be cleaned of them. Values are never logged, never in events,
/// never in an API answer.
public final class AppSecrets: Sendable {
  /// The most a value may hold.
  static let maxBytes = 64 << 10
  let seal: SecretSeal
  let store: any StateStore
  /// Opened values by app, filled on first use.
  private let opened = Mutex<[String: [String: String]]>([:])

  init(seal: SecretSeal, store: any StateStore) {
    self.seal = seal
    self.store = store
  }

  static func scope(_ app: String) -> String { "app-secret/\(app)" }

  /// The names of `app`'s secrets.
  func names(app: String) async throws(SchedulerError) -> [String] {
    try await values(app: app).keys.sorted()
  }

  /// `app`'s secrets, opened.
  func values(app: String) async throws(SchedulerError) -> [String: String] {
    if let known = opened.withLock({ $0[app] }) { return known }
    let sealed: [String: String]
    do { sealed = try await store.secrets(scope: Self.scope(app)) } catch {
      throw SchedulerError(.store, "cannot read the secrets of \(app): \(error.message)")
    }
    var values: [String: String] = [:]
    for (name, value) in sealed { values[name] = try seal.open(value, app: app, name: name) }
    let result = values
    opened.withLock { $0[app] = result }
    return result
  }

  /// Sets (or with nil, removes) a secret of `app`; the event names it, never its value.
  func set(_ value: String?, app: String, name: String, actor: String, at: Date)
    async throws(SchedulerError)
  {
    if let problem = AppSpec.secretNameProblem(name) { throw SchedulerError(.invalid, problem) }
    if let value {
      guard !value.isEmpty, value.utf8.count <= Self.maxBytes, !value.contains("\0") else {
        throw SchedulerError(
          .invalid,
          "a secret's value is 1 byte to 64 KiB of text without NUL bytes (got \(value.utf8.count) bytes)"
        )
      }
    } else if try await values(app: app)[name] == nil {
      throw SchedulerError(
        .notFound, "\(app) has no secret \(name) (schedctl secret ls \(app) lists them)")
    }
    let sealed = try value.map { v throws(SchedulerError) in try seal.seal(v, app: app, name: name)
    }
    let event = ClusterEvent(
      at: at, actor: actor, kind: value == nil ? "secret.removed" : "secret.set",
      subject: "\(app)/\(name)",
      detail: value == nil
        ? "removed; slots deployed from now on do not get it"
        : "set (\(value!.utf8.count) bytes, sealed); slots deployed from now on get it")
    do {
      try await store.setSecret(sealed, scope: Self.scope(app), name: name, events: [event])
    } catch {
      throw SchedulerError(.store, "the secret was not changed: \(error.message)")
    }
    _ = try await values(app: app)
    opened.withLock { $0[app]?[name] = value }
  }

  /// `text` with every value of `app`'s secrets replaced by `[secret NAME]`.
  func redact(_ text: String, app: String) -> String {
    guard let values = opened.withLock({ $0[app] }), !values.isEmpty else { return text }
    var out = text
    // Longest first, so a value that contains another is replaced whole.
    for (name, value) in values.sorted(by: { $0.value.count > $1.value.count })
    where value.count >= 4 {
      out = out.replacingOccurrences(of: value, with: "[secret \(name)]")
    }
    return out
  }
}
