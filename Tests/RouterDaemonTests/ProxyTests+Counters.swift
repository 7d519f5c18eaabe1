import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import RouteTable
import SchedModel
import SchedTestSupport
import Testing

@testable import RouterDaemon

/// The router's counts: per color and route, exactly what was sent.
extension ProxyTests {
  @Test("counters per color equal the requests sent, by status class")
  func countsExactly() async throws {
    let live = try await TestBackend.start("live")
    let candidate = try await TestBackend.start("candidate")
    let running = try await Self.start(
      Self.table(live: [live.port], candidate: [candidate.port]))
    try await withThrowingTaskGroup(of: Void.self) { group in
      for worker in 0..<8 {
        group.addTask {
          for i in 0..<25 {
            let path = (worker + i) % 5 == 0 ? "/status/404" : "/"
            _ = try await TestHTTP.fetch(running.url + path, headers: [("Host", "web.test")])
          }
        }
      }
      try await group.waitForAll()
    }
    for _ in 0..<7 {
      _ = try await TestHTTP.fetch(
        running.previewURL + "/status/503", headers: [("Host", "web.test")])
    }
    let traffic = await running.router.proxy.traffic()
    let blue = try #require(traffic.first { $0.color == .blue })
    let green = try #require(traffic.first { $0.color == .green })
    #expect(blue.requests == 200)
    #expect(blue[.clientError] == 40)
    #expect(blue[.success] == 160)
    #expect(blue.latency.total == 200)
    #expect(green.requests == 7)
    #expect(green[.serverError] == 7)
    await running.stop()
    await live.stop()
    await candidate.stop()
  }

  @Test("preview requests, by listener or header, are counted apart from production (14.8)")
  func previewCountedApart() async throws {
    let live = try await TestBackend.start("live")
    let candidate = try await TestBackend.start("candidate")
    let running = try await Self.start(
      Self.table(live: [live.port], candidate: [candidate.port]),
      previewHeader: "X-Turnout-Preview")
    for _ in 0..<5 {
      _ = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "web.test")])
    }
    for _ in 0..<4 {
      _ = try await TestHTTP.fetch(running.previewURL + "/", headers: [("Host", "web.test")])
    }
    for _ in 0..<3 {
      _ = try await TestHTTP.fetch(
        running.url + "/", headers: [("Host", "web.test"), ("X-Turnout-Preview", "1")])
    }
    let traffic = await running.router.proxy.traffic()
    #expect(traffic.count == 2, "\(traffic.map { ($0.color, $0.route, $0.requests) })")
    let production = try #require(traffic.first { $0.route == .production })
    let preview = try #require(traffic.first { $0.route == .preview })
    #expect((production.color, production.requests) == (.blue, 5))
    #expect((preview.color, preview.requests) == (.green, 7))
    // On the wire the route is named for preview only; older reports read as production.
    let line = String(decoding: try JSONEncoder().encode(preview), as: UTF8.self)
    #expect(line.contains(#""route":"preview""#))
    #expect(
      !String(decoding: try JSONEncoder().encode(production), as: UTF8.self).contains("route"))
    await running.stop()
    await live.stop()
    await candidate.stop()
  }

  /// A blocking client socket that reads with a 3 s timeout, for a conversation in steps.
  final class Conversation {
    let fd: Int32
    private(set) var received = ""

    init(port: Int) throws {
      guard let fd = connectLoopback(port: port, readTimeout: 3) else {
        throw HarnessError("cannot connect to \(port)")
      }
      self.fd = fd
    }

    deinit { close(fd) }

    func send(_ text: String) {
      _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Reads until everything received so far contains `marker`; false if the connection
    /// ended or 3 s passed first.
    func read(until marker: String) -> Bool {
      var buffer = [UInt8](repeating: 0, count: 65536)
      while !received.contains(marker) {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { return false }
        received += String(decoding: buffer[0..<n], as: UTF8.self)
      }
      return true
    }

    func appendReceived(_ text: String) { received += text }

    /// Reads until the other side closes; false if 3 s passed first.
    func readToEnd() -> Bool {
      var buffer = [UInt8](repeating: 0, count: 65536)
      while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n == 0 { return true }
        if n < 0 { return false }
        received += String(decoding: buffer[0..<n], as: UTF8.self)
      }
    }
  }

  static let handshake =
    "GET /ws HTTP/1.1\r\nHost: web.test\r\nConnection: keep-alive, Upgrade\r\n"
    + "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}
