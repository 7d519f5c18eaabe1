import AsyncHTTPClient
import ClusterPKI
import Crypto
import Foundation
import GRDB
import ModelFixtures
import NIOCore
import NIOHTTP1
import NIOSSL
import OperatorAPI
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import Testing

@testable import SchedulerDaemon

/// Every API route against every kind of caller, over HTTPS with the cluster CA: no token, a
/// wrong one, the join token, a node's certificate, and a token of each role. Each answer is
/// the expected one, and the database is byte for byte the same after every refusal.
@Suite("Access matrix", .serialized)
struct AccessMatrixTests {
  /// The role each `/v1` route needs. A route the scheduler serves that is missing here fails
  /// the test: a new route must say who may call it.
  static let needs: [String: OperatorRole] = [
    "GET /v1/whoami": .read,
    "GET /v1/nodes": .read,
    "DELETE /v1/nodes/{node}": .admin,
    "POST /v1/replacement/resume": .admin,
    "GET /v1/cluster/join": .admin,
    "POST /v1/tokens/{name}/rotate": .admin,
    "GET /v1/tokens": .admin,
    "POST /v1/tokens": .admin,
    "DELETE /v1/tokens/{name}": .admin,
    "POST /v1/images/blobs/missing": .deploy,
    "PUT /v1/images/blobs/{digest}": .deploy,
    "PUT /v1/images": .deploy,
    "GET /v1/images": .read,
    "DELETE /v1/images": .admin,
    "POST /v1/images/gc": .admin,
    "GET /v1/registries": .read,
    "PUT /v1/registries/{registry}": .admin,
    "DELETE /v1/registries/{registry}": .admin,
    "POST /v1/apps/{name}/hooks/secret": .admin,
    "POST /v1/apps/{name}/builds": .deploy,
    "POST /v1/builds/{id}/start": .deploy,
    "GET /v1/builds": .read,
    "GET /v1/builds/{id}": .read,
    "GET /v1/builds/{id}/log": .read,
    "GET /v1/placement": .read,
    "POST /v1/plan": .read,
    "GET /v1/rebalance": .read,
    "POST /v1/apps/{name}/move": .deploy,
    "GET /v1/events": .read,
    "GET /v1/apps": .read,
    "PUT /v1/apps/{name}": .admin,
    "GET /v1/apps/{name}": .read,
    "POST /v1/apps/{name}/deploy": .deploy,
    "GET /v1/samples": .read,
    "GET /v1/routers": .read,
    "POST /v1/apps/{name}/switch": .deploy,
    "POST /v1/apps/{name}/verify": .deploy,
    "GET /v1/apps/{name}/verification": .read,
    "GET /v1/apps/{name}/verifications/{id}": .read,
    "POST /v1/apps/{name}/rollback": .deploy,
    "POST /v1/apps/{name}/retire": .deploy,
    "POST /v1/apps/{name}/sets/{color}/stop": .deploy,
    "GET /v1/apps/{name}/secrets": .read,
    "PUT /v1/apps/{name}/secrets/{secret}": .admin,
    "DELETE /v1/apps/{name}/secrets/{secret}": .admin,
    "GET /v1/certificates": .read,
    "GET /v1/certificates/{name}": .read,
    "PUT /v1/certificates/{name}": .admin,
    "DELETE /v1/certificates/{name}": .admin,
    "POST /v1/certificates/{name}/renew": .admin,
    "GET /metrics": .read,
  ]
  /// Routes outside the tokens: open, the dashboard's own (its session), the webhook (its
  /// signature).
  static let outside: Set<String> = [
    "GET /healthz", "GET /", "GET /dashboard", "GET /dashboard/state", "POST /dashboard/login",
    "POST /dashboard/logout", "GET /dashboard/style.css", "GET /dashboard/app.js",
    "POST /v1/apps/{name}/hooks/build",
  ]

  /// A body each route would act on if it were let through.
  static func body(_ route: String) -> String {
    switch route {
    case "PUT /v1/apps/{name}":
      String(decoding: try! JSONEncoder().encode(Fixtures.quickApp("web", slots: 1)), as: UTF8.self)
    case "POST /v1/tokens": #"{"name":"intruder","role":"admin"}"#
    case "PUT /v1/apps/{name}/secrets/{secret}": #"{"value":"hunter2-hunter2"}"#
    case "PUT /v1/certificates/{name}": #"{"chain":"x","key":"y"}"#
    case "POST /v1/apps/{name}/deploy": #"{"image":"web:2"}"#
    case "POST /v1/apps/{name}/move": #"{"avoiding":["n9"]}"#
    case "PUT /v1/registries/{registry}": #"{"username":"u","password":"p"}"#
    case "POST /v1/apps/{name}/retire": #"{"drainTimeoutMillis":1}"#
    case "POST /v1/plan": #"{"slots":1,"cpuMillis":100,"memoryBytes":1048576}"#
    default: "{}"
    }
  }

  static func path(_ route: String) -> (HTTPMethod, String) {
    let parts = route.split(separator: " ", maxSplits: 1)
    let concrete = String(parts[1])
      .replacingOccurrences(of: "{name}/rotate", with: "join/rotate")
      .replacingOccurrences(of: "tokens/{name}", with: "tokens/ops")
      .replacingOccurrences(of: "certificates/{name}", with: "certificates/web.example.com")
      .replacingOccurrences(of: "{name}", with: "web")
      .replacingOccurrences(of: "{node}", with: "n1")
      .replacingOccurrences(of: "{id}", with: "b1")
      .replacingOccurrences(of: "{color}", with: "blue")
      .replacingOccurrences(of: "{secret}", with: "DB_PASSWORD")
      .replacingOccurrences(of: "{digest}", with: "sha256:" + String(repeating: "0", count: 64))
      .replacingOccurrences(of: "{registry}", with: "registry.example")
    return (HTTPMethod(rawValue: String(parts[0])), concrete)
  }

  enum Credential: CustomStringConvertible {
    case none, wrong, joinToken, nodeCertificate
    case token(OperatorRole)

    var description: String {
      switch self {
      case .none: "no token"
      case .wrong: "a wrong token"
      case .joinToken: "the join token"
      case .nodeCertificate: "a node certificate"
      case .token(let role): "a \(role.rawValue) token"
      }
    }
  }

  @Test("every route answers each caller as its role says; a refusal changes nothing")
  func matrix() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "access-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let database = directory.appendingPathComponent("turnout.db").path
    let pki = directory.appendingPathComponent("pki").path
    let scheduler = try await InProcessScheduler.start(
      store: try SQLiteStore(path: database), sampleInterval: .seconds(3600)
    ) { config in
      config.clusterSecurity = .tls(pkiDirectory: pki)
      config.apiTLS = .clusterCA(names: ["127.0.0.1", "localhost"])
    }
    defer { Task { await scheduler.stop() } }
    let base = "https://127.0.0.1:\(scheduler.apiPort)"
    let caFile = pki + "/ca.pem"
    #expect(FileManager.default.fileExists(atPath: caFile))

    // The routes served are exactly the ones listed.
    let served = Set(scheduler.scheduler.apiRoutes)
    let listed = Set(Self.needs.keys).union(Self.outside)
    #expect(served.subtracting(listed).isEmpty, "routes with no role in this test")
    #expect(listed.subtracting(served).isEmpty, "listed routes not served")

    // A client that trusts the cluster CA; one that also presents a node's certificate.
    let admin = APIClient(baseURL: base, token: InProcessScheduler.apiToken, caFile: caFile)
    _ = try await admin.apply(Fixtures.quickApp("web", slots: 1))
    var tokens: [OperatorRole: String] = [:]
    for role in OperatorRole.allCases {
      tokens[role] = try await admin.createToken(name: "t-\(role.rawValue)", role: role).token
    }
    _ = try await admin.createToken(name: "ops", role: .read)
    let joinToken = try await admin.joinInfo().token
    #expect(joinToken.hasPrefix("TRN-1-"))
    let authority = try #require(scheduler.scheduler.authority).tls.authority
    let request = try CertificateRequest(role: .agent, name: "n1")
    let nodeCertificate = try authority.issue(
      requestPEM: request.pem, role: .agent, name: "n1", now: Date(), validity: 3600)
    let trusting = Self.client(caFile: caFile, certificate: nil)
    let withNodeCertificate = Self.client(
      caFile: caFile, certificate: (try nodeCertificate.serializeAsPEM().pemString, request.key))
    defer {
      Task {
        try? await trusting.shutdown()
        try? await withNodeCertificate.shutdown()
      }
    }

    func send(_ route: String, _ credential: Credential) async throws -> Fetched {
      let (method, path) = Self.path(route)
      var headers = [("Content-Type", "application/json")]
      switch credential {
      case .none, .nodeCertificate: break
      case .wrong: headers.append(("Authorization", "Bearer trn-api-not-a-token"))
      case .joinToken: headers.append(("Authorization", "Bearer \(joinToken)"))
      case .token(let role): headers.append(("Authorization", "Bearer \(tokens[role]!)"))
      }
      let body = method == .GET ? nil : ByteBuffer(string: Self.body(route))
      return try await TestHTTP.fetch(
        base + path, method: method, headers: headers, body: body,
        client: credential.isNodeCertificate ? withNodeCertificate : trusting)
    }

    // Refusals first, each between two reads of the whole database.
    var refusals = 0
    for (route, needed) in Self.needs.sorted(by: { $0.key < $1.key }) {
      let callers: [Credential] =
        [.none, .wrong, .joinToken, .nodeCertificate]
        + OperatorRole.allCases.filter { !$0.permits(needed) }.map { .token($0) }
      for caller in callers {
        let before = try Self.dump(database)
        let answer = try await send(route, caller)
        let expected = caller.isToken ? 403 : 401
        #expect(answer.status == expected, "\(route) with \(caller): \(answer.text)")
        #expect(try Self.dump(database) == before, "\(route) with \(caller) changed the database")
        refusals += 1
      }
    }
    #expect(refusals > 4 * Self.needs.count)

    // Then every permitted role is let through (whatever the route then answers).
    for (route, needed) in Self.needs.sorted(by: { $0.key < $1.key }) {
      for role in OperatorRole.allCases where role.permits(needed) {
        let answer = try await send(route, .token(role))
        #expect(
          ![401, 403].contains(answer.status), "\(route) with a \(role) token: \(answer.text)")
      }
    }
  }

  @Test("the event log names the token; a revoked token and its dashboard sessions are refused")
  func actorsAndRevocation() async throws {
    let scheduler = try await InProcessScheduler.start()
    defer { Task { await scheduler.stop() } }
    let base = "http://127.0.0.1:\(scheduler.apiPort)"
    let created = try await scheduler.api.createToken(name: "ci-deploy", role: .deploy)
    #expect(created.token.hasPrefix("trn-api-"))
    let ci = APIClient(baseURL: base, token: created.token)
    #expect(try await ci.whoami() == WhoAmI(name: "ci-deploy", role: .deploy))

    // Changes carry the token's name; what the client says of its user comes after, in
    // brackets.
    let ops = APIClient(
      baseURL: base, token: try await scheduler.api.createToken(name: "ops", role: .admin).token)
    _ = try await ops.apply(Fixtures.quickApp("web", slots: 1))
    let events = try await scheduler.api.events()
    let applied = try #require(events.last { $0.subject == "web" })
    #expect(applied.actor.hasPrefix("ops ("), "\(applied)")
    #expect(events.contains { $0.kind == "token.created" && $0.actor.hasPrefix("bootstrap (") })

    // A role too low is told which role it needs.
    do {
      _ = try await ci.apply(Fixtures.quickApp("web", slots: 2))
      Issue.record("a deploy token changed an app")
    } catch {
      #expect(error.code == .unauthorized)
      #expect(error.message.contains("role deploy, and this needs admin"), "\(error.message)")
    }
    // Names are unique, the bootstrap's is taken, a bad one is explained.
    await #expect(throws: ClientError.self) {
      _ = try await scheduler.api.createToken(name: "ci-deploy", role: .read)
    }
    await #expect(throws: ClientError.self) {
      _ = try await scheduler.api.createToken(name: "bootstrap", role: .read)
    }
    await #expect(throws: ClientError.self) {
      _ = try await scheduler.api.createToken(name: "Has Spaces", role: .read)
    }
    let listed = try await scheduler.api.tokens()
    #expect(listed.map(\.name) == ["bootstrap", "ci-deploy", "ops"])
    #expect(
      !String(decoding: try JSONEncoder().encode(listed), as: UTF8.self).contains(created.token))

    // A dashboard session opened with the token ends when it is revoked.
    let client = HTTPClient(
      eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    defer { Task { try? await client.shutdown() } }
    let login = try await TestHTTP.fetch(
      base + "/dashboard/login", method: .POST,
      headers: [("Content-Type", "application/x-www-form-urlencoded")],
      body: ByteBuffer(string: "token=\(created.token)"), client: client)
    let cookie = try #require(login.headers["set-cookie"]).prefix { $0 != ";" }
    let page = try await TestHTTP.fetch(
      base + "/dashboard", headers: [("Cookie", String(cookie))], client: client)
    #expect(page.text.contains("ci-deploy · deploy"))
    try await scheduler.api.revokeToken("ci-deploy")
    await #expect(throws: ClientError.self) { _ = try await ci.whoami() }
    let after = try await TestHTTP.fetch(
      base + "/dashboard/state", headers: [("Cookie", String(cookie))], client: client)
    #expect(after.status == 401)
    await #expect(throws: ClientError.self) { try await scheduler.api.revokeToken("bootstrap") }
  }

  static func client(caFile: String, certificate: (pem: String, key: P256.Signing.PrivateKey)?)
    -> HTTPClient
  {
    var tls = TLSConfiguration.makeClientConfiguration()
    tls.trustRoots = .file(caFile)
    if let certificate {
      tls.certificateChain = [
        .certificate(try! NIOSSLCertificate(bytes: Array(certificate.pem.utf8), format: .pem))
      ]
      tls.privateKey = .privateKey(
        try! NIOSSLPrivateKey(bytes: Array(certificate.key.pemRepresentation.utf8), format: .pem))
    }
    var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
    configuration.tlsConfiguration = tls
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }

  /// Every row of every table (sorted: some tables have no rowid).
  static func dump(_ path: String) throws -> String {
    var configuration = Configuration()
    configuration.readonly = true
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    return try queue.read { db in
      let tables = try String.fetchAll(
        db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      return try tables.map { table in
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"")
        return table + ": " + rows.map(\.description).sorted().joined(separator: "\n")
      }.joined(separator: "\n")
    }
  }
}

extension AccessMatrixTests.Credential {
  var isToken: Bool { if case .token = self { true } else { false } }
  var isNodeCertificate: Bool { if case .nodeCertificate = self { true } else { false } }
}
