import AgentCore
import Crypto
import Foundation
import ModelFixtures
import OperatorAPI
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import Testing

@testable import SchedulerDaemon

/// App secrets: sealed at rest under a key outside the database, handed only to the nodes
/// that run the app (as variables or files), never in an answer, an event or the database in
/// clear, and cleaned out of test output.
@Suite("App secrets")
struct SecretsTests {
  static let value = "s3cr3t-Hunter2-\(UUID().uuidString.prefix(8))"

  @Test("a sealed value opens only with its key and under its own app and name")
  func sealing() throws {
    let seal = SecretSeal(key: SymmetricKey(size: .bits256))
    let sealed = try seal.seal(Self.value, app: "web", name: "DB_PASSWORD")
    #expect(sealed.hasPrefix("v1:") && !sealed.contains(Self.value))
    #expect(try seal.open(sealed, app: "web", name: "DB_PASSWORD") == Self.value)
    #expect(throws: SchedulerError.self) { try seal.open(sealed, app: "api", name: "DB_PASSWORD") }
    #expect(throws: SchedulerError.self) { try seal.open(sealed, app: "web", name: "OTHER") }
    let other = SecretSeal(key: SymmetricKey(size: .bits256))
    #expect(throws: SchedulerError.self) { try other.open(sealed, app: "web", name: "DB_PASSWORD") }
    // Two seals of one value differ (a fresh nonce each).
    #expect(try seal.seal(Self.value, app: "web", name: "DB_PASSWORD") != sealed)
  }

  @Test("the key file is made 0600 and read back; a file that is not a key is refused")
  func keyFile() throws {
    let directory = temporaryDirectory("secrets-key")
    let path = directory.appendingPathComponent("pki/secrets.key").path
    let made = try SecretSeal.load(path: path)
    let mode = (try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? Int
    #expect(mode == 0o600)
    let sealed = try made.seal("x-value", app: "web", name: "K")
    #expect(try SecretSeal.load(path: path).open(sealed, app: "web", name: "K") == "x-value")
    try Data("short".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: SchedulerError.self) { try SecretSeal.load(path: path) }
  }

  @Test("redaction replaces every value of the app's secrets, the longest first")
  func redaction() async throws {
    let secrets = AppSecrets(
      seal: SecretSeal(key: SymmetricKey(size: .bits256)), store: MemoryStore())
    try await secrets.set("abcd1234", app: "web", name: "SHORT", actor: "t", at: Date())
    try await secrets.set("abcd1234-longer", app: "web", name: "LONG", actor: "t", at: Date())
    #expect(
      secrets.redact("a=abcd1234-longer b=abcd1234", app: "web")
        == "a=[secret LONG] b=[secret SHORT]")
    #expect(secrets.redact("abcd1234", app: "api") == "abcd1234")
  }

  @Test(
    "a deploy without its secrets is refused; with them the slot gets them and nothing else does")
  func secretsReachTheSlotOnly() async throws {
    let directory = temporaryDirectory("secrets")
    let database = directory.appendingPathComponent("turnout.db").path
    let keyPath = directory.appendingPathComponent("keys/secrets.key").path
    let scheduler = try await InProcessScheduler.start(store: try SQLiteStore(path: database)) {
      $0.secretsKeyPath = keyPath
    }
    let runtime = FakeRuntime(images: ["web:1"])
    let secretFiles = directory.appendingPathComponent("agent-secrets").path
    let agent = scheduler.startRuntimeAgent("n1", runtime: runtime, secretDirectory: secretFiles)
    defer {
      agent.cancel()
      Task { await scheduler.stop() }
    }
    #expect(await eventually { (try? await scheduler.api.nodes().count) == 1 })
    var spec = Fixtures.quickApp("web", slots: 1)
    spec.secrets = ["DB_PASSWORD"]
    spec.secretFiles = ["TLS_KEY"]
    let api = scheduler.api
    _ = try await api.apply(spec)

    do {
      _ = try await api.deploy("web", image: nil)
      Issue.record("a deploy without its secrets went ahead")
    } catch {
      #expect(error.message.contains("DB_PASSWORD, TLS_KEY"), "\(error.message)")
      #expect(error.message.contains("schedctl secret set web DB_PASSWORD"))
    }
    await #expect(throws: ClientError.self) {
      try await api.setSecret(app: "web", name: "db-password", value: Self.value)
    }
    try await api.setSecret(app: "web", name: "DB_PASSWORD", value: Self.value)
    try await api.setSecret(app: "web", name: "TLS_KEY", value: Self.value + "-file")
    #expect(try await api.secrets(app: "web") == ["DB_PASSWORD", "TLS_KEY"])

    let deployed = try await api.deploy("web", image: nil)
    let name = "turnout-web-\(deployed.color.rawValue)-0"
    #expect(await eventually { await runtime.spec(named: name) != nil })
    let container = try #require(await runtime.spec(named: name))
    #expect(container.environment["DB_PASSWORD"] == Self.value)
    #expect(container.environment["TLS_KEY"] == nil)
    let file = try #require(container.secretFiles["TLS_KEY"])
    #expect(try String(contentsOfFile: file, encoding: .utf8) == Self.value + "-file")
    let attributes = try FileManager.default.attributesOfItem(atPath: file)
    #expect(attributes[.posixPermissions] as? Int == 0o444)
    let folder = try FileManager.default.attributesOfItem(
      atPath: (file as NSString).deletingLastPathComponent)
    #expect(folder[.posixPermissions] as? Int == 0o700)

    // Not in any answer, event or the database file and its log.
    let answers: [String] = [
      String(describing: try await api.apps()), String(describing: try await api.status("web")),
      String(describing: try await api.events(limit: 1000)),
      String(describing: try await api.placement()),
    ]
    for answer in answers { #expect(!answer.contains(Self.value)) }
    let events = try await api.events(limit: 1000)
    #expect(events.contains { $0.kind == "secret.set" && $0.subject == "web/DB_PASSWORD" })
    for suffix in ["", "-wal"] {
      let bytes = FileManager.default.contents(atPath: database + suffix) ?? Data()
      #expect(bytes.range(of: Data(Self.value.utf8)) == nil, "the value is in turnout.db\(suffix)")
    }
    #expect(FileManager.default.fileExists(atPath: keyPath))

    // Removed: listed no more, and the next deploy is refused again.
    try await api.removeSecret(app: "web", name: "TLS_KEY")
    #expect(try await api.secrets(app: "web") == ["DB_PASSWORD"])
    await #expect(throws: ClientError.self) { _ = try await api.deploy("web", image: nil) }
  }
}
