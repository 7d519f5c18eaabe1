import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// One HTTP exchange through a test client that never retries on its own.
public struct Fetched {
  public var status: Int
  public var headers: [String: String]
  public var body: ByteBuffer

  public var text: String { String(buffer: body) }
}

/// The test client: no retries of its own, short connect timeout.
public enum TestHTTP {
  public static let client: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(2)
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }()

  public static func fetch(
    _ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = [],
    body: ByteBuffer? = nil, client: HTTPClient = client
  ) async throws -> Fetched {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(body) }
    let response = try await client.execute(request, timeout: .seconds(20))
    let bytes = try await response.body.collect(upTo: 64 << 20)
    var out: [String: String] = [:]
    for header in response.headers { out[header.name.lowercased()] = header.value }
    return Fetched(status: Int(response.status.code), headers: out, body: bytes)
  }
}
