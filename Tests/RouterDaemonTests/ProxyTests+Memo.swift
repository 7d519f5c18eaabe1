import Foundation
import RouteTable
import SchedModel
import SchedTestSupport
import Testing

@testable import RouterDaemon

#if canImport(Glibc)
  import Glibc
#endif

/// A keep-alive connection reuses its last route (`RouteMemo`) only while it still holds.
extension ProxyTests {
  @Test("one keep-alive connection follows its requests' hosts, the preview header and a switch")
  func memoFollowsHostPreviewAndSwitch() async throws {
    let web = try await TestBackend.start("web-blue")
    let candidate = try await TestBackend.start("web-green")
    let api = try await TestBackend.start("api-blue")
    let switched = try await TestBackend.start("web-next")
    let apiApp = AppRoutes(
      app: "api", hosts: ["api.test"],
      live: RouteSet(
        color: .blue, deployment: "a1", image: "api:1",
        upstreams: [Self.upstream("api", .blue, 0, port: api.port)]))
    let running = try await Self.start(
      Self.table(live: [web.port], candidate: [candidate.port], extraApps: [apiApp]),
      previewHeader: "X-Turnout-Preview")
    let connection = try Conversation(port: running.router.proxy.port)
    func ask(_ host: String, _ extra: String = "") -> String {
      connection.answer("GET / HTTP/1.1\r\nHost: \(host)\r\n\(extra)\r\n")
    }
    #expect(ask("web.test") == "web-blue")
    #expect(ask("web.test") == "web-blue")
    #expect(ask("api.test") == "api-blue")
    #expect(ask("WEB.test:80") == "web-blue")
    #expect(ask("web.test", "X-Turnout-Preview: 1\r\n") == "web-green")
    #expect(ask("web.test") == "web-blue")
    #expect(ask("nobody.test").isEmpty)
    #expect(ask("web.test") == "web-blue")
    // A new table: the same connection's next request goes where the new one says.
    #expect(
      try running.router.routes.install(
        Self.table(epoch: 11, live: [switched.port], extraApps: [apiApp])))
    #expect(ask("web.test") == "web-next")
    #expect(ask("api.test") == "api-blue")
    #expect(ask("web.test", "X-Turnout-Preview: 1\r\n").isEmpty)  // no candidate any more
    await running.stop()
    for backend in [web, candidate, api, switched] { await backend.stop() }
  }
}

extension ProxyTests.Conversation {
  /// Sends one request and reads its whole answer (framed by content-length); returns the
  /// body of a 200, or "" for any other status.
  func answer(_ request: String) -> String {
    let before = received.utf8.count
    send(request)
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let text = String(received.utf8.dropFirst(before))!
      if let end = text.range(of: "\r\n\r\n") {
        let head = text[..<end.lowerBound].lowercased()
        let length =
          head.components(separatedBy: "\r\n").first { $0.hasPrefix("content-length:") }
          .flatMap {
            Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
          }
          ?? 0
        let body = text[end.upperBound...]
        if body.utf8.count >= length {
          return head.hasPrefix("http/1.1 200") ? String(body) : ""
        }
      }
      let n = recv(fd, &buffer, buffer.count, 0)
      if n <= 0 { return "closed" }
      appendReceived(String(decoding: buffer[0..<n], as: UTF8.self))
    }
  }
}
