import AgentCore
import AsyncHTTPClient
import NIOCore

/// Health checks over HTTP: a 2xx or 3xx answer within the timeout passes.
public final class HTTPHealthProber: HealthProber {
  private let http: HTTPClient

  public init() {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.redirectConfiguration = .disallow
    http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }

  deinit { try? http.syncShutdown() }

  public func probe(host: String, port: Int, path: String, timeout: Duration) async -> String? {
    let hostPart = host.contains(":") ? "[\(host)]" : host
    var request = HTTPClientRequest(url: "http://\(hostPart):\(port)\(path)")
    request.headers.add(name: "User-Agent", value: "turnout-health")
    do {
      let response = try await http.execute(
        request,
        timeout: .milliseconds(
          timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        ))
      _ = try? await response.body.collect(upTo: 1 << 16)
      return (200..<400).contains(Int(response.status.code))
        ? nil : "HTTP \(response.status.code) from \(path)"
    } catch {
      let text = "\(error)"
      if text.contains("Connection refused") || text.contains("connectionRefused") {
        return "connection refused"
      }
      if text.contains("eadline") || text.contains("imeout") {
        return "no answer within \(timeout)"
      }
      return text
    }
  }
}
