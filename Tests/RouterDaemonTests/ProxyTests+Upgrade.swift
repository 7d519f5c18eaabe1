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

/// Upgraded (WebSocket) connections, and the table saved across a restart.
extension ProxyTests {
  @Test("a WebSocket handshake reaches the slot, its 101 the client, and bytes pass both ways")
  func splicesUpgradedConnections() async throws {
    let slot = try await UpgradeBackend.start()
    let running = try await Self.start(Self.table(live: [slot.port]))
    let client = try Conversation(port: running.router.proxy.port)
    // Bytes right behind the head already speak the new protocol.
    client.send(Self.handshake + "early")
    #expect(client.read(until: "EARLY"), "\(client.received)")
    let head = client.received.lowercased()
    #expect(head.hasPrefix("http/1.1 101 switching protocols\r\n"))
    #expect(head.contains("\r\nconnection: upgrade\r\n"))
    #expect(head.contains("\r\nupgrade: websocket\r\n"))
    #expect(head.contains("\r\nx-turnout-color: blue\r\n"))
    #expect(head.contains("hello-from-slot"))
    let seen = try #require(slot.heads.withLockedValue { $0.first })
    #expect(seen.contains("\r\nsec-websocket-key: dGhlIHNhbXBsZQ==".lowercased()))
    for message in ["first frame", "second frame"] {
      client.send(message)
      #expect(client.read(until: message.uppercased()), "\(client.received)")
    }
    // Answered once, and in flight while open: a drain waits for it.
    var blue = try #require(await running.router.proxy.traffic().first { $0.color == .blue })
    #expect(blue.requests == 1 && blue[.success] == 1 && blue.inFlight == 1)
    // The slot ends it: the client's connection closes too, and nothing is in flight.
    client.send("bye")
    #expect(client.readToEnd())
    #expect(client.received.hasSuffix("BYE"))
    #expect(
      await eventually {
        await running.router.proxy.traffic().first { $0.color == .blue }?.inFlight == 0
      })
    blue = try #require(await running.router.proxy.traffic().first { $0.color == .blue })
    #expect(blue.requests == 1 && blue[.proxyError] == 0)
    await running.stop()
    await slot.stop()
  }

  @Test("a client leaving an upgraded connection closes the slot's; no upgrade without asking")
  func upgradedConnectionEndsFromTheClient() async throws {
    let slot = try await UpgradeBackend.start()
    let running = try await Self.start(Self.table(live: [slot.port]))
    do {
      let client = try Conversation(port: running.router.proxy.port)
      client.send(Self.handshake)
      #expect(client.read(until: "hello-from-slot"))
    }
    #expect(
      await eventually {
        await running.router.proxy.traffic().first { $0.color == .blue }?.inFlight == 0
      })
    // `upgrade` without `connection: upgrade` is a hop-by-hop field like any other: dropped.
    let plain = try Self.raw(
      running.router.proxy.port,
      "GET / HTTP/1.1\r\nHost: web.test\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n")
    #expect(plain.hasPrefix("HTTP/1.1 400 Bad Request"), "\(plain)")
    #expect(plain.hasSuffix("no upgrade asked"))
    #expect(slot.heads.withLockedValue { $0.last?.contains("upgrade") } == false)
    await running.stop()
    await slot.stop()
  }

  @Test("an upgraded connection silent both ways for the idle timeout is closed on both sides")
  func idleUpgradedConnectionCloses() async throws {
    let slot = try await UpgradeBackend.start()
    let running = try await Self.start(
      Self.table(live: [slot.port]), idleTimeout: .milliseconds(300))
    let client = try Conversation(port: running.router.proxy.port)
    client.send(Self.handshake)
    #expect(client.read(until: "hello-from-slot"))
    let opened = ContinuousClock.now
    #expect(client.readToEnd())
    #expect(ContinuousClock.now - opened >= .milliseconds(250))
    #expect(
      await eventually {
        await running.router.proxy.traffic().first { $0.color == .blue }?.inFlight == 0
      })
    await running.stop()
    await slot.stop()
  }

  @Test("the served table is saved and served again after a restart, before any scheduler")
  func servesSavedTableAfterRestart() async throws {
    let b0 = try await TestBackend.start("b0")
    let b1 = try await TestBackend.start("b1")
    let first = try await Self.start(Self.table(epoch: 5, live: [b0.port]))
    #expect(try first.router.routes.install(Self.table(epoch: 6, live: [b1.port])))
    first.router.routes.flush()
    await first.stop()
    let second = try await Self.start(.empty, stateFile: first.stateFile)
    #expect(second.router.epoch == 6)
    let response = try await TestHTTP.fetch(second.url + "/", headers: [("Host", "web.test")])
    #expect(response.text == "b1")
    #expect(try !second.router.routes.install(Self.table(epoch: 6, live: [b0.port])))
    await second.stop()
    await b0.stop()
    await b1.stop()
  }

  @Test("a damaged state file stops the router with a message naming the file")
  func damagedStateFile() async throws {
    let file = temporaryDirectory("proxy-bad").appendingPathComponent("routes.json").path
    try Data("{not json".utf8).write(to: URL(fileURLWithPath: file))
    await #expect {
      _ = try await Self.start(.empty, stateFile: file)
    } throws: { error in
      (error as? RouterError)?.code == .stateFile && "\(error)".contains(file)
    }
  }
}
