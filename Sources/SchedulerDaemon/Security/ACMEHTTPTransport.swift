import ACME
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// HTTPS to the ACME CA through AsyncHTTPClient: the system's roots, or the operator's CA file
/// (a private CA, or pebble's in tests). A refused connection fails at once.
final class ACMEHTTPTransport: ACMETransport {
  let client: HTTPClient

  init(caFile: String?) {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout.connect = .seconds(5)
    configuration.redirectConfiguration = .disallow
    if let caFile {
      var tls = TLSConfiguration.makeClientConfiguration()
      tls.trustRoots = .file(caFile)
      configuration.tlsConfiguration = tls
    }
    client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }

  func shutdown() async { try? await client.shutdown() }

  func send(_ url: String, body: Data?, head: Bool) async throws(ACMEError) -> ACMEResponse {
    var request = HTTPClientRequest(url: url)
    request.headers.add(name: "user-agent", value: "turnout-schedd")
    if let body {
      request.method = .POST
      request.headers.add(name: "content-type", value: "application/jose+json")
      request.body = .bytes(ByteBuffer(bytes: body))
    } else {
      request.method = head ? .HEAD : .GET
    }
    do {
      let response = try await client.execute(request, timeout: .seconds(30))
      var headers: [String: String] = [:]
      for header in response.headers { headers[header.name.lowercased()] = header.value }
      let bytes = head ? ByteBuffer() : try await response.body.collect(upTo: 4 << 20)
      return ACMEResponse(
        status: Int(response.status.code), headers: headers, body: Data(buffer: bytes))
    } catch {
      throw ACMEError(.unreachable, "cannot reach the ACME CA at \(url): \(Self.reason(error))")
    }
  }

  /// A short reason from AsyncHTTPClient's and NIO's errors.
  static func reason(_ error: any Error) -> String {
    let text = "\(error)"
    if text.contains("connectionRefused") || text.contains("Connection refused") {
      return "connection refused"
    }
    if text.contains("connectTimeout") || text.contains("deadlineExceeded") { return "timed out" }
    if text.contains("handshake") || text.contains("certificate") || text.contains("SSL") {
      return "TLS failed (\(text)); is --acme-ca-file the CA that signed its certificate?"
    }
    return text
  }
}
