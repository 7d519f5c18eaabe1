import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import OperatorAPI
import SchedModel
import Synchronization

/// Typed client of the scheduler's operator API, for `schedctl` and tests.
public struct APIClient: Sendable {
  public let baseURL: String
  let token: String
  let timeout: Duration
  /// The PEM file of the CA an `https://` scheduler's certificate must chain to (schedd's
  /// cluster CA, `pki/ca.pem`); nil trusts the system's roots.
  public let caFile: String?

  public init(
    baseURL: String, token: String, timeout: Duration = .seconds(10), caFile: String? = nil
  ) {
    self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
    self.token = token
    self.timeout = timeout
    self.caFile = caFile
  }

  public func nodes() async throws(ClientError) -> [NodeView] {
    try await get("/v1/nodes", as: NodesResponse.self).nodes
  }

  /// The nodes with how re-placement of down nodes' slots stands.
  public func nodesAndReplacement() async throws(ClientError) -> NodesResponse {
    try await get("/v1/nodes", as: NodesResponse.self)
  }

  /// Re-places down nodes' slots although the mass-failure brake holds.
  public func resumeReplacement() async throws(ClientError) -> ReplacementStatus {
    try await send(
      .POST, "/v1/replacement/resume", body: [String: String](), as: ReplacementStatus.self)
  }

  /// Removes a node whose agent is stopped and that holds no slots; revokes its certificates.
  public func removeNode(_ node: String) async throws(ClientError) -> NodeRemoved {
    let path = node.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? node
    return try await send(
      .DELETE, "/v1/nodes/\(path)", body: Optional<String>.none, as: NodeRemoved.self)
  }

  /// Rotates the `join` or `router` token; returns the new one.
  public func rotateToken(_ role: String) async throws(ClientError) -> TokenRotated {
    try await send(
      .POST, "/v1/tokens/\(role)/rotate", body: [String: String](), as: TokenRotated.self)
  }

  public func joinInfo() async throws(ClientError) -> JoinInfo {
    try await get("/v1/cluster/join", as: JoinInfo.self)
  }

  public func placement() async throws(ClientError) -> PlacementResponse {
    try await get("/v1/placement", as: PlacementResponse.self)
  }

  public func plan(_ request: PlanRequest) async throws(ClientError) -> PlanResponse {
    try await send(.POST, "/v1/plan", body: request, as: PlanResponse.self)
  }

  public func events(after: Int64 = 0, limit: Int = 100) async throws(ClientError) -> [ClusterEvent]
  {
    try await get("/v1/events?after=\(after)&limit=\(limit)", as: EventsResponse.self).events
  }

  public func apps() async throws(ClientError) -> [AppRecord] {
    try await get("/v1/apps", as: AppsResponse.self).apps
  }

  public func apply(_ spec: AppSpec) async throws(ClientError) -> AppRecord {
    try await send(.PUT, "/v1/apps/\(spec.name)", body: spec, as: AppRecord.self)
  }

  public func status(_ app: String) async throws(ClientError) -> AppStatusResponse {
    try await get("/v1/apps/\(app)", as: AppStatusResponse.self)
  }

  public func deploy(_ app: String, image: String?) async throws(ClientError) -> DeployResponse {
    try await send(
      .POST, "/v1/apps/\(app)/deploy", body: DeployRequest(image: image), as: DeployResponse.self)
  }

  /// A copy of the live set of `app` on `nodes` (one per slot), or anywhere but `avoiding`:
  /// one move of a rebalance. Switch to it once ready, then retire the old set.
  public func move(_ app: String, nodes: [NodeID]?, avoiding: [NodeID] = [])
    async throws(ClientError) -> DeployResponse
  {
    try await send(
      .POST, "/v1/apps/\(app)/move",
      body: MoveRequest(nodes: nodes, avoiding: avoiding.isEmpty ? nil : avoiding),
      as: DeployResponse.self)
  }

  /// The live sets repacked on as few nodes as the scheduler finds, and the moves that do it.
  public func rebalancePlan() async throws(ClientError) -> RebalancePlan {
    try await get("/v1/rebalance", as: RebalancePlan.self)
  }

  public func stopSet(_ app: String, color: Color, force: Bool = false) async throws(ClientError) {
    _ = try await send(
      .POST, "/v1/apps/\(app)/sets/\(color.rawValue)/stop", body: StopSetRequest(force: force),
      as: [String: String].self)
  }

  public func switchLive(_ app: String, force: Bool = false) async throws(ClientError)
    -> SwitchResponse
  {
    try await send(
      .POST, "/v1/apps/\(app)/switch", body: SwitchRequest(force: force), as: SwitchResponse.self)
  }

  /// Starts verifying the app's candidate set; follow it with `verification(_:id:)`.
  public func verify(_ app: String) async throws(ClientError) -> Verification {
    try await send(
      .POST, "/v1/apps/\(app)/verify", body: [String: String](), as: Verification.self)
  }

  public func verification(_ app: String, id: String) async throws(ClientError) -> Verification {
    try await get("/v1/apps/\(app)/verifications/\(id)", as: Verification.self)
  }

  /// The latest verification of the image the candidate runs (else the latest at all).
  public func latestVerification(_ app: String) async throws(ClientError) -> Verification {
    try await get("/v1/apps/\(app)/verification", as: Verification.self)
  }

  public func rollback(_ app: String) async throws(ClientError) -> SwitchResponse {
    try await send(
      .POST, "/v1/apps/\(app)/rollback", body: [String: String](), as: SwitchResponse.self)
  }

  public func retire(_ app: String, drainTimeoutMillis: Int64?) async throws(ClientError)
    -> RetireResponse
  {
    try await send(
      .POST, "/v1/apps/\(app)/retire", body: RetireRequest(drainTimeoutMillis: drainTimeoutMillis),
      as: RetireResponse.self)
  }

  /// Stored metric points of `series` at `resolution` seconds (10 or 60) since `since`.
  public func samples(_ series: [String], resolution: Int64 = 10, since: Int64? = nil)
    async throws(ClientError) -> [SamplePoint]
  {
    let names = series.joined(separator: ",").addingPercentEncoding(
      withAllowedCharacters: .alphanumerics.union(["-", "_", ".", "/"]))!
    let from = since.map { "&since=\($0)" } ?? ""
    return try await get(
      "/v1/samples?series=\(names)&resolution=\(resolution)\(from)", as: [SamplePoint].self)
  }

  public func routers() async throws(ClientError) -> RoutersResponse {
    try await get("/v1/routers", as: RoutersResponse.self)
  }

  // MARK: plumbing

  func get<T: Decodable>(_ path: String, as: T.Type) async throws(ClientError) -> T {
    try await send(.GET, path, body: Optional<String>.none, as: T.self)
  }

  func send<T: Decodable>(
    _ method: HTTPMethod, _ path: String, body: (some Encodable)?, as: T.Type
  ) async throws(ClientError) -> T {
    var payload: HTTPClientRequest.Body?
    if let body {
      do {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        payload = .bytes(ByteBuffer(bytes: try encoder.encode(body)))
      } catch {
        throw ClientError(.badRequest, "cannot encode request: \(error)")
      }
    }
    return try await execute(
      method, path, body: payload, contentType: "application/json", timeout: timeout, as: T.self)
  }

  func execute<T: Decodable>(
    _ method: HTTPMethod, _ path: String, body: HTTPClientRequest.Body?, contentType: String,
    timeout: Duration, as: T.Type
  ) async throws(ClientError) -> T {
    var request = HTTPClientRequest(url: baseURL + path)
    request.method = method
    request.headers.add(name: "Authorization", value: "Bearer \(token)")
    request.headers.add(name: "Accept", value: "application/json")
    request.headers.add(name: "X-Turnout-Actor", value: Self.actor)
    if let body {
      request.body = body
      request.headers.add(name: "Content-Type", value: contentType)
    }
    let status: HTTPResponseStatus
    let headers: HTTPHeaders
    let bytes: ByteBuffer
    do {
      let response = try await Self.http(trusting: caFile).execute(
        request, timeout: .milliseconds(timeout.components.seconds * 1000))
      status = response.status
      headers = response.headers
      bytes = try await response.body.collect(upTo: 64 << 20)
    } catch {
      if let wrong = Self.wrongServer(error, baseURL: baseURL) {
        throw ClientError(.unreachable, wrong)
      }
      guard Self.neverConnected(error) else {
        // Sent, perhaps acted on, not answered: the caller must find out what happened.
        throw ClientError(
          .interrupted,
          "the scheduler at \(baseURL) did not answer \(method) \(path): \(Self.describe(error))")
      }
      throw ClientError(
        .unreachable,
        "cannot reach the scheduler at \(baseURL): \(Self.describe(error)). Is schedd running? Point schedctl at it with --scheduler or TURNOUT_API."
      )
    }
    let data = Data(bytes.readableBytesView)
    let succeeded = (200..<300).contains(status.code)
    // Only a refusal carries an error body (the cluster port's `wrong_port` is a 400).
    let body = succeeded ? nil : try? JSONDecoder().decode(APIErrorBody.self, from: data)
    if body?.code == "wrong_port" || (body == nil && !succeeded)
      || (succeeded && !Self.isJSON(headers))
    {
      if let wrong = Self.notTheAPI(status: status, headers: headers, body: body, baseURL: baseURL)
      {
        throw ClientError(.unreachable, wrong)
      }
    }
    guard succeeded else {
      let message =
        body?.error ?? "HTTP \(status.code) \(String(decoding: data.prefix(200), as: UTF8.self))"
      switch status {
      case .unauthorized, .forbidden: throw ClientError(.unauthorized, message)
      case .badRequest, .notFound, .unprocessableEntity, .payloadTooLarge:
        throw ClientError(.badRequest, message)
      case .conflict, .serviceUnavailable:
        throw ClientError(.refused, message)
      case .insufficientStorage: throw ClientError(.server, "the scheduler's disk: \(message)")
      default: throw ClientError(.server, "scheduler failed: \(message)")
      }
    }
    do {
      let decoder = JSONDecoder()
      decoder.dateDecodingStrategy = .secondsSince1970
      return try decoder.decode(T.self, from: data)
    } catch {
      throw ClientError(
        .badResponse,
        "the scheduler's answer could not be read (\(error)); are schedctl and schedd the same version?"
      )
    }
  }

  static func isJSON(_ headers: HTTPHeaders) -> Bool {
    headers.first(name: "content-type")?.lowercased().contains("json") ?? false
  }

  /// Why the server at `baseURL` is not the scheduler's API, from its answer: the cluster
  /// port, a Turnout router, or another web server. nil when it may well be the API.
  static func notTheAPI(
    status: HTTPResponseStatus, headers: HTTPHeaders, body: APIErrorBody?, baseURL: String
  ) -> String? {
    if body?.code == "wrong_port" { return "\(baseURL) is not the API: \(body!.error)" }
    if headers.contains(name: "x-turnout-error") || headers.contains(name: "x-turnout-color") {
      return
        "\(baseURL) is a Turnout router (it answered with x-turnout-* headers), not the scheduler's API; point --scheduler (or TURNOUT_API) at schedd's API address, by default http://127.0.0.1:7070"
    }
    guard body == nil, !isJSON(headers) else { return nil }
    let type = headers.first(name: "content-type") ?? "no content type"
    return
      "\(baseURL) answered HTTP \(status.code) with \(type): it is not the Turnout scheduler's API; point --scheduler (or TURNOUT_API) at schedd's API address, by default http://127.0.0.1:7070"
  }

  /// A connection error that shows the URL names the wrong kind of server: TLS to a plain HTTP
  /// port, or HTTP to a port that does not speak it (an older scheduler's cluster port).
  static func wrongServer(_ error: any Error, baseURL: String) -> String? {
    let text = "\(error)"
    if baseURL.hasPrefix("https://"),
      ["CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "unable to get local issuer"]
        .contains(where: text.contains)
    {
      return
        "the scheduler at \(baseURL) has a certificate schedctl does not trust: pass --ca-file (or TURNOUT_CA_FILE) with the CA that signed it, for schedd --api-https the cluster CA's pki/ca.pem"
    }
    if baseURL.hasPrefix("https://"), text.contains("hostname") || text.contains("HOSTNAME") {
      return
        "the scheduler's certificate does not name the host in \(baseURL): use a name it holds, or start schedd with --api-name for this one"
    }
    if baseURL.hasPrefix("https://"),
      ["SSL", "TLS", "handshake", "WRONG_VERSION_NUMBER", "BoringSSL"].contains(
        where: text.contains)
    {
      let plain = "http://" + baseURL.dropFirst("https://".count)
      return
        "\(baseURL) does not answer TLS (the handshake failed): schedd's API speaks plain HTTP; use \(plain)"
    }
    if ["invalidConstantString", "HTTPParserError", "invalid constant string", "invalidVersion"]
      .contains(where: text.contains)
    {
      return
        "\(baseURL) does not speak HTTP: is it schedd's cluster port? schedctl needs the API port, by default 7070"
    }
    return nil
  }

  /// One client per trusted CA for the process, like `HTTPClient.shared`, but a refused
  /// connection fails at once instead of being retried until the request's deadline.
  private static let clients = Mutex<[String: HTTPClient]>([:])

  static func http(trusting caFile: String?) -> HTTPClient {
    clients.withLock { table in
      if let client = table[caFile ?? ""] { return client }
      var configuration = HTTPClient.Configuration()
      configuration.connectionPool.retryConnectionEstablishment = false
      configuration.timeout.connect = .seconds(3)
      // A script or the simulator may send many requests at once (8 by default).
      configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
      if let caFile {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        configuration.tlsConfiguration = tls
      }
      let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
      table[caFile ?? ""] = client
      return client
    }
  }

  /// `user@host` of whoever runs this, for the scheduler's event log.
  static let actor: String = {
    let env = ProcessInfo.processInfo.environment
    let user = env["SUDO_USER"] ?? env["USER"] ?? env["LOGNAME"] ?? ProcessInfo.processInfo.userName
    return "\(user)@\(ProcessInfo.processInfo.hostName)"
  }()

  /// Whether the request failed before a connection was made, so nothing was sent.
  static func neverConnected(_ error: any Error) -> Bool {
    let text = "\(error)"
    return [
      "Connection refused", "connectionRefused", "connectTimeout", "NIOConnectionError",
      "No route to host", "Network is unreachable", "dnsLookup", "Could not resolve",
    ].contains { text.contains($0) }
  }

  private static func describe(_ error: any Error) -> String {
    let text = "\(error)"
    if text.contains("connectionRefused") || text.contains("Connection refused") {
      return "connection refused"
    }
    if text.contains("Timeout") || text.contains("timeout") { return "timed out" }
    return text
  }
}

/// The error of the API client. `code` tells scripts (and exit codes) what kind of failure it was.
public struct ClientError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    /// No connection could be made: nothing was sent.
    case unreachable
    /// The request was sent but no answer came (the scheduler went away): it may have been
    /// carried out.
    case interrupted
    case unauthorized
    case badRequest = "bad_request"
    /// The scheduler understood and said no: a switch refused or aborted, a busy app.
    case refused
    case server
    case badResponse = "bad_response"
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }

  /// The scheduler could not be reached or did not answer: it may be restarting.
  public var schedulerAway: Bool { code == .unreachable || code == .interrupted }
}
