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

/// The preview route: its own listener (on its own address if wanted) or a header.
extension ProxyTests {
  @Test("the preview listener and the preview header reach the candidate set")
  func preview() async throws {
    let live = try await TestBackend.start("live")
    let candidate = try await TestBackend.start("candidate")
    let running = try await Self.start(
      Self.table(live: [live.port], candidate: [candidate.port]),
      previewHeader: "X-Turnout-Preview")
    let production = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "web.test")])
    #expect(production.text == "live")
    let previewed = try await TestHTTP.fetch(
      running.previewURL + "/", headers: [("Host", "web.test")])
    #expect(previewed.text == "candidate")
    #expect(previewed.headers["x-turnout-color"] == "green")
    let byHeader = try await TestHTTP.fetch(
      running.url + "/", headers: [("Host", "web.test"), ("X-Turnout-Preview", "1")])
    #expect(byHeader.text == "candidate")
    await running.stop()
    await live.stop()
    await candidate.stop()
  }

  @Test("the preview listener may sit on another address than production")
  func previewOnItsOwnAddress() async throws {
    let live = try await TestBackend.start("live")
    let candidate = try await TestBackend.start("candidate")
    let running = try await Self.start(
      Self.table(live: [live.port], candidate: [candidate.port]), previewHost: "127.0.0.2")
    let port = try #require(running.router.proxy.previewPort)
    let previewed = try await TestHTTP.fetch(
      "http://127.0.0.2:\(port)/", headers: [("Host", "web.test")])
    #expect(previewed.text == "candidate")
    // The router does not listen on production's address at the preview port (another test's
    // server may hold that port number there: whatever answers is not this router).
    let other = try? await TestHTTP.fetch(
      "http://127.0.0.1:\(port)/", headers: [("Host", "web.test")])
    #expect(
      other == nil || other?.headers["x-turnout-color"] == nil, "\(String(describing: other))")
    let production = try await TestHTTP.fetch(running.url + "/", headers: [("Host", "web.test")])
    #expect(production.text == "live")
    await running.stop()
    await live.stop()
    await candidate.stop()
  }
}
