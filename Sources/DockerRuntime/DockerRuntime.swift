import AgentCore
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `ContainerRuntime` over the Docker Engine API on its unix socket.
///
/// The API version is negotiated once through `GET /version`: the highest version both this
/// client and the engine speak, never a pinned one. Turnout needs at least 1.41 (Docker 20.10).
public actor DockerRuntime: ContainerRuntime {
  /// The oldest engine API this client works with, and the newest it knows.
  static let minimum = APIVersion(major: 1, minor: 41)
  static let newest = APIVersion(major: 1, minor: 51)

  public let socketPath: String
  let http: HTTPClient
  private var version: APIVersion?

  public init(socketPath: String = "/var/run/docker.sock") {
    self.socketPath = socketPath
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(3)
    self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }

  deinit {
    try? http.syncShutdown()
  }

  /// The negotiated API version, asking the engine the first time.
  public func apiVersion() async throws(RuntimeError) -> String {
    try await negotiated().description
  }

  public func create(_ spec: ContainerSpec) async throws(RuntimeError) -> String {
    let name =
      spec.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-", "_", "."]))
      ?? spec.name
    let (status, body) = try await request(
      .POST, "/containers/create?name=\(name)", json: CreateRequest(spec))
    switch status {
    case 201: return try decode(CreateResponse.self, body).Id
    case 409: throw RuntimeError(.conflict, message(body, "container \(spec.name) already exists"))
    case 404: throw RuntimeError(.notFound, message(body, "no such image: \(spec.image)"))
    default: throw failure(status, body, "create \(spec.name)")
    }
  }

  public func start(_ id: String) async throws(RuntimeError) {
    let (status, body) = try await request(.POST, "/containers/\(id)/start")
    switch status {
    case 204, 304: return
    case 404: throw RuntimeError(.notFound, message(body, "no such container: \(id)"))
    default: throw failure(status, body, "start \(id)")
    }
  }

  public func stop(_ id: String, timeout: Duration) async throws(RuntimeError) {
    let seconds = max(0, timeout.components.seconds)
    let (status, body) = try await request(
      .POST, "/containers/\(id)/stop?t=\(seconds)", timeout: .seconds(seconds + 30))
    switch status {
    case 204, 304: return
    case 404: throw RuntimeError(.notFound, message(body, "no such container: \(id)"))
    default: throw failure(status, body, "stop \(id)")
    }
  }

  public func remove(_ id: String) async throws(RuntimeError) {
    let (status, body) = try await request(.DELETE, "/containers/\(id)?force=true&v=true")
    switch status {
    case 204, 404: return
    case 409 where message(body, "").contains("already in progress"): return
    default: throw failure(status, body, "remove \(id)")
    }
  }

  public func list(labels: [String: String]) async throws(RuntimeError) -> [ContainerInfo] {
    let (status, body) = try await request(
      .GET, "/containers/json?all=1&filters=\(Self.labelFilter(labels))")
    guard status == 200 else { throw failure(status, body, "list containers") }
    return try decode([ListedContainer].self, body).map { listed in
      ContainerInfo(
        id: listed.Id,
        name: listed.Names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }
          ?? listed.Id,
        image: listed.Image, labels: listed.Labels ?? [:],
        state: ContainerInfo.State(rawValue: listed.State) ?? .dead, imageID: listed.ImageID)
    }.sorted { $0.name < $1.name }
  }

  public func inspect(_ id: String) async throws(RuntimeError) -> ContainerInfo {
    let (status, body) = try await request(.GET, "/containers/\(id)/json")
    switch status {
    case 200: return try decode(InspectResponse.self, body).info
    case 404: throw RuntimeError(.notFound, message(body, "no such container: \(id)"))
    default: throw failure(status, body, "inspect \(id)")
    }
  }

  public func stats(_ id: String) async throws(RuntimeError) -> ContainerStats {
    let (status, body) = try await request(.GET, "/containers/\(id)/stats?stream=false")
    switch status {
    case 200: return try decode(StatsResponse.self, body).stats
    case 404: throw RuntimeError(.notFound, message(body, "no such container: \(id)"))
    default: throw failure(status, body, "stats of \(id)")
    }
  }

  public func ensureImage(_ image: String) async throws(RuntimeError) {
    let (status, _) = try await request(.GET, "/images/\(Self.encoded(image))/json")
    if status == 200 { return }
    do {
      try await pull(image, auth: nil)
    } catch {
      throw RuntimeError(
        .notFound,
        "image \(image) is not on this host, not in the cluster's image store, and could not be pulled (\(error.message)); push it to the cluster with schedctl image push \(image)"
      )
    }
  }

  public func pull(_ reference: String, auth: String?) async throws(RuntimeError) {
    let (repository, tag) = Self.split(reference)
    let query =
      "fromImage=\(Self.queryValue(repository))&tag=\(Self.queryValue(tag))"
    let (status, body) = try await request(
      .POST, "/images/create?\(query)", timeout: .seconds(3600),
      headers: auth.map { ["X-Registry-Auth": $0] } ?? [:])
    // The engine streams progress as JSON lines; a failure is a line with "error".
    let text = String(decoding: body, as: UTF8.self)
    if status != 200 || text.contains("\"error\"") {
      let line = text.split(separator: "\n").last(where: { $0.contains("\"error\"") })
      let reason =
        line.flatMap { try? JSONDecoder().decode(PullError.self, from: Data($0.utf8)).error }
        ?? line.map(String.init) ?? message(body, "HTTP \(status)")
      throw RuntimeError(.notFound, "pulling \(reference) failed: \(reason)")
    }
  }

  public func tag(_ image: String, as reference: String) async throws(RuntimeError) {
    let (repository, tag) = Self.split(reference)
    let (status, body) = try await request(
      .POST,
      "/images/\(Self.encoded(image))/tag?repo=\(Self.queryValue(repository))&tag=\(Self.queryValue(tag))"
    )
    switch status {
    case 200, 201: return
    case 404: throw RuntimeError(.notFound, message(body, "no such image: \(image)"))
    default: throw failure(status, body, "tag \(image) as \(reference)")
    }
  }

  /// A value in a query string: everything but letters and digits percent-encoded.
  static func queryValue(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
  }

  /// An image name or id in a path.
  static func encoded(_ image: String) -> String {
    image.addingPercentEncoding(
      withAllowedCharacters: .alphanumerics.union(["-", "_", ".", ":", "@"])) ?? image
  }

  private struct PullError: Decodable { var error: String }

  public func imageID(_ image: String) async throws(RuntimeError) -> String {
    let (status, body) = try await request(.GET, "/images/\(Self.encoded(image))/json")
    switch status {
    case 200: return try decode(ImageInspect.self, body).Id
    case 404: throw RuntimeError(.notFound, message(body, "no such image: \(image)"))
    default: throw failure(status, body, "inspect image \(image)")
    }
  }

  public func createNetwork(name: String, labels: [String: String]) async throws(RuntimeError)
    -> String
  {
    let (status, body) = try await request(
      .POST, "/networks/create", json: NetworkCreateRequest(Name: name, Labels: labels))
    switch status {
    case 201: return try decode(NetworkCreateResponse.self, body).Id
    case 409: throw RuntimeError(.conflict, message(body, "network \(name) already exists"))
    default: throw failure(status, body, "create network \(name)")
    }
  }

  public func removeNetwork(_ id: String) async throws(RuntimeError) {
    let (status, body) = try await request(.DELETE, "/networks/\(id)")
    switch status {
    case 204, 404: return
    default: throw failure(status, body, "remove network \(id)")
    }
  }

  public func listNetworks(labels: [String: String]) async throws(RuntimeError) -> [String] {
    let (status, body) = try await request(.GET, "/networks?filters=\(Self.labelFilter(labels))")
    guard status == 200 else { throw failure(status, body, "list networks") }
    return try decode([ListedNetwork].self, body).map(\.Id)
  }

  public func logs(_ id: String, tailBytes: Int) async throws(RuntimeError) -> String {
    let (status, body) = try await request(
      .GET, "/containers/\(id)/logs?stdout=1&stderr=1&tail=500")
    switch status {
    case 200:
      let text = LogFrames.text(body)
      return String(text.utf8.suffix(tailBytes)) ?? text
    case 404: throw RuntimeError(.notFound, message(body, "no such container: \(id)"))
    default: throw failure(status, body, "read the logs of \(id)")
    }
  }

  // MARK: plumbing

  /// The engine's `filters` query for objects carrying every one of `labels`, URL-encoded.
  static func labelFilter(_ labels: [String: String]) -> String {
    let filters = ["label": labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }]
    let encoded =
      (try? JSONEncoder().encode(filters)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    return encoded.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
  }

  static func split(_ image: String) -> (String, String) {
    if let at = image.firstIndex(of: "@") {
      return (String(image[..<at]), String(image[image.index(after: at)...]))
    }
    if let colon = image.lastIndex(of: ":"), !image[colon...].contains("/") {
      return (String(image[..<colon]), String(image[image.index(after: colon)...]))
    }
    return (image, "latest")
  }

  func negotiated() async throws(RuntimeError) -> APIVersion {
    if let version { return version }
    let (status, body) = try await raw(.GET, "/version", body: nil, timeout: .seconds(10))
    guard status == 200, let server = APIVersion(try decode(VersionResponse.self, body).ApiVersion)
    else {
      throw failure(status, body, "read the engine version")
    }
    guard server >= Self.minimum else {
      throw RuntimeError(
        .invalid,
        "the Docker Engine speaks API \(server), Turnout needs \(Self.minimum) (Docker 20.10) or later; upgrade Docker"
      )
    }
    let chosen = min(server, Self.newest)
    version = chosen
    return chosen
  }

  func request(
    _ method: HTTPMethod, _ path: String, json: (some Encodable)? = Optional<String>.none,
    timeout: Duration = .seconds(60), headers: [String: String] = [:]
  ) async throws(RuntimeError) -> (Int, Data) {
    let version = try await negotiated()
    var body: Data?
    if let json {
      do { body = try JSONEncoder().encode(json) } catch {
        throw RuntimeError(.invalid, "cannot encode request: \(error)")
      }
    }
    return try await raw(
      method, "/v\(version)\(path)", body: body, timeout: timeout, headers: headers)
  }

  private func raw(
    _ method: HTTPMethod, _ path: String, body: Data?, timeout: Duration,
    headers: [String: String] = [:]
  ) async throws(RuntimeError) -> (Int, Data) {
    let socket =
      socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath
    var request = HTTPClientRequest(url: "http+unix://\(socket)\(path)")
    request.method = method
    // The engine's HTTP server wants a Host header; the socket path is not a host name.
    request.headers.replaceOrAdd(name: "Host", value: "docker")
    for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
    if let body {
      request.headers.add(name: "Content-Type", value: "application/json")
      request.body = .bytes(ByteBuffer(bytes: body))
    }
    do {
      let response = try await http.execute(request, timeout: .seconds(timeout.components.seconds))
      let bytes = try await response.body.collect(upTo: 64 << 20)
      return (Int(response.status.code), Data(bytes.readableBytesView))
    } catch {
      throw RuntimeError(
        .unavailable,
        "cannot talk to the Docker Engine at \(socketPath): \(error). Is dockerd running, and may this user use its socket?"
      )
    }
  }

  private func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws(RuntimeError) -> T {
    do { return try JSONDecoder().decode(T.self, from: data) } catch {
      throw RuntimeError(.failed, "unexpected answer from the Docker Engine: \(error)")
    }
  }

  func message(_ data: Data, _ fallback: String) -> String {
    (try? JSONDecoder().decode(ErrorResponse.self, from: data).message) ?? fallback
  }

  func failure(_ status: Int, _ body: Data, _ action: String) -> RuntimeError {
    let text = message(body, String(decoding: body.prefix(300), as: UTF8.self))
    return RuntimeError(
      status == 400 ? .invalid : .failed,
      "Docker Engine could not \(action): HTTP \(status): \(text)")
  }
}
