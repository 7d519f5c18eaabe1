import NIOCore
import NIOEmbedded
import RouteTable
import SchedModel
import Testing

@testable import RouterDaemon

/// The proxy handler carrying out its connection's actions, on embedded channels: every state
/// of `ProxyConnection` reached through real pipeline events, with no socket and no clock.
@Suite("Proxy handler on embedded channels")
struct ProxyHandlerTests {
  static let get = "GET /a HTTP/1.1\r\nhost: web.test\r\n\r\n"
  static let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

  @Test("a request reaches a slot and its stamped answer the client; the connection is reused")
  func proxiesAndPools() throws {
    let proxy = try EmbeddedProxy(table: EmbeddedProxy.table([EmbeddedProxy.slotA]))
    defer { proxy.finish() }
    try proxy.send(Self.get)
    #expect(proxy.connector.waiting == [EmbeddedProxy.slotA])
    let slot = try proxy.accept()
    let request = try EmbeddedProxy.received(by: slot)
    #expect(request.hasPrefix("GET /a HTTP/1.1\r\nhost: web.test\r\n"))
    #expect(request.contains("x-forwarded-for: 192.0.2.7\r\n"))
    try slot.writeInbound(ByteBuffer(string: Self.ok))
    let answer = try proxy.received()
    #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
    #expect(answer.contains("x-turnout-color: blue\r\n"))
    #expect(answer.hasSuffix("\r\n\r\nok"))
    #expect(proxy.traffic?[.success] == 1)
    #expect(proxy.traffic?.inFlight == 0)

    try proxy.send("GET /b HTTP/1.1\r\nhost: web.test\r\n\r\n")
    #expect(proxy.connector.waiting.isEmpty)
    #expect(try EmbeddedProxy.received(by: slot).hasPrefix("GET /b HTTP/1.1\r\n"))
  }

  @Test("the router's own answers: an unknown host 404 keeps the connection; 503 is counted")
  func ownAnswers() throws {
    let empty = AppRoutes(
      app: "empty", hosts: ["empty.test"],
      live: RouteSet(color: .green, deployment: "d9", image: "e:1", upstreams: []))
    let table = EmbeddedProxy.table()
    let proxy = try EmbeddedProxy(table: RouteTable(epoch: 1, apps: table.apps + [empty]))
    defer { proxy.finish() }
    try proxy.send("GET / HTTP/1.1\r\nhost: nowhere.test\r\n\r\n")
    #expect(try proxy.received().hasPrefix("HTTP/1.1 404 Not Found\r\n"))
    #expect(proxy.client.isActive)
    try proxy.send("GET / HTTP/1.1\r\nhost: empty.test\r\n\r\n")
    #expect(try proxy.received().contains("the green set of empty has no healthy slot"))
    let counted = proxy.context.traffic.first { $0.app == "empty" }
    #expect(counted?[.proxyError] == 1)
    #expect(proxy.connector.waiting.isEmpty)
  }

  @Test("a refused connection is retried on the other slot; refused on every slot answers 502")
  func refusedTwice() throws {
    let proxy = try EmbeddedProxy()
    defer { proxy.finish() }
    try proxy.send(Self.get)
    let first = proxy.connector.waiting
    try proxy.refuse()
    let second = proxy.connector.waiting
    #expect(first.count == 1 && second.count == 1 && first != second)
    try proxy.refuse()
    let answer = try proxy.received()
    #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
    #expect(answer.contains("no slot of the blue set of web could be reached"))
    #expect(proxy.traffic?[.proxyError] == 1)
    #expect(proxy.traffic?.inFlight == 0)
    #expect(proxy.client.isActive)
  }

  @Test("a slot silent past the response timeout gets 504 and its connection closed")
  func responseTimeout() throws {
    let proxy = try EmbeddedProxy(responseTimeout: .seconds(2))
    defer { proxy.finish() }
    try proxy.send(Self.get)
    let slot = try proxy.accept()
    proxy.loop.advanceTime(by: .milliseconds(1500))
    #expect(try proxy.received().isEmpty)
    proxy.loop.advanceTime(by: .seconds(1))
    #expect(try proxy.received().hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
    #expect(!slot.isActive)
    #expect(proxy.client.isActive)
  }

  @Test("a slot closing mid-answer to a POST closes the client's connection: no spliced answer")
  func cutMidAnswer() throws {
    let proxy = try EmbeddedProxy()
    defer { proxy.finish() }
    try proxy.send("POST /a HTTP/1.1\r\nhost: web.test\r\ncontent-length: 0\r\n\r\n")
    let slot = try proxy.accept()
    try slot.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01"))
    #expect(try proxy.received().hasSuffix("\r\n\r\n01"))
    try slot.close().wait()
    #expect(!proxy.client.isActive)
    #expect(proxy.traffic?[.proxyError] == 1)
  }

  @Test(
    "a GET's small answer waits whole: a slot dying between head and body leaves nothing sent, and the other slot answers"
  )
  func heldAnswerRetried() throws {
    let proxy = try EmbeddedProxy()
    defer { proxy.finish() }
    try proxy.send(Self.get)
    let dying = try proxy.accept()
    try dying.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01"))
    #expect(try proxy.received().isEmpty)
    try dying.close().wait()
    let other = try proxy.accept()
    #expect(try EmbeddedProxy.received(by: other).hasPrefix("GET /a HTTP/1.1\r\n"))
    try other.writeInbound(
      ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789"))
    let answer = try proxy.received()
    #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
    #expect(answer.hasSuffix("\r\n\r\n0123456789"))
    #expect(proxy.client.isActive)
    #expect(proxy.traffic?[.success] == 1)
    #expect(proxy.traffic?[.proxyError] == 0)
  }

  @Test("a held answer cut on every try: 502 saying none of it was sent, the client kept")
  func heldAnswerCutTwice() throws {
    let proxy = try EmbeddedProxy()
    defer { proxy.finish() }
    try proxy.send(Self.get)
    for _ in 0..<2 {
      let slot = try proxy.accept()
      try slot.writeInbound(
        ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01"))
      try slot.close().wait()
    }
    let answer = try proxy.received()
    #expect(answer.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
    #expect(answer.contains("before its answer was whole (held: none of it was sent)"))
    #expect(proxy.client.isActive)
    #expect(proxy.traffic?[.proxyError] == 1)
  }

  @Test("a held answer whose body lags past the response timeout goes out as it comes")
  func heldAnswerLetOut() throws {
    let proxy = try EmbeddedProxy(responseTimeout: .seconds(2))
    defer { proxy.finish() }
    try proxy.send(Self.get)
    let slot = try proxy.accept()
    try slot.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01"))
    proxy.loop.advanceTime(by: .milliseconds(1500))
    #expect(try proxy.received().isEmpty)
    proxy.loop.advanceTime(by: .seconds(1))
    let start = try proxy.received()
    #expect(start.hasPrefix("HTTP/1.1 200 OK\r\n"))
    #expect(start.hasSuffix("\r\n\r\n01"))
    try slot.writeInbound(ByteBuffer(string: "23456789"))
    #expect(try proxy.received() == "23456789")
    #expect(proxy.traffic?[.success] == 1)
  }

  @Test("a 101 splices the connections both ways until the slot closes")
  func tunnel() throws {
    let proxy = try EmbeddedProxy()
    defer { proxy.finish() }
    try proxy.send(
      "GET /ws HTTP/1.1\r\nhost: web.test\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nearly"
    )
    let slot = try proxy.accept()
    #expect(try EmbeddedProxy.received(by: slot).contains("upgrade: websocket\r\n"))
    try slot.writeInbound(
      ByteBuffer(
        string:
          "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nhi")
    )
    let answer = try proxy.received()
    #expect(answer.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
    #expect(answer.hasSuffix("\r\n\r\nhi"))
    #expect(try EmbeddedProxy.received(by: slot) == "early")
    try proxy.send("ping")
    proxy.client.pipeline.fireChannelReadComplete()
    #expect(try EmbeddedProxy.received(by: slot) == "ping")
    try slot.writeInbound(ByteBuffer(string: "pong"))
    #expect(try proxy.received() == "pong")
    #expect(proxy.traffic?.inFlight == 1)
    try slot.close().wait()
    #expect(!proxy.client.isActive)
    #expect(proxy.traffic?.inFlight == 0)
  }

  @Test("after a 400 nothing the client sent reaches a slot, and the connection closes")
  func closingReadsNothing() throws {
    let proxy = try EmbeddedProxy()
    defer { proxy.finish() }
    try proxy.send("NOT HTTP\r\n\r\n" + Self.get)
    #expect(try proxy.received().hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    #expect(proxy.connector.waiting.isEmpty)
    #expect(!proxy.client.isActive)
  }

  @Test("back-pressure: a full slot pauses the client's reads, a full client the slot's")
  func backPressure() throws {
    let proxy = try EmbeddedProxy()
    defer { proxy.finish() }
    try proxy.send("POST / HTTP/1.1\r\nhost: web.test\r\ncontent-length: 100\r\n\r\nabc")
    let slot = try proxy.accept()
    slot.isWritable = false
    slot.pipeline.fireChannelWritabilityChanged()
    #expect(proxy.handler.readPaused)
    slot.isWritable = true
    slot.pipeline.fireChannelWritabilityChanged()
    #expect(!proxy.handler.readPaused)
    proxy.client.isWritable = false
    proxy.client.pipeline.fireChannelWritabilityChanged()
    #expect(try !proxy.upstreamHandler(slot).reading)
    proxy.client.isWritable = true
    proxy.client.pipeline.fireChannelWritabilityChanged()
    #expect(try proxy.upstreamHandler(slot).reading)
  }

  @Test("a client leaving mid-request closes the slot's connection and leaves no request in flight")
  func clientLeaves() throws {
    let proxy = try EmbeddedProxy()
    defer { proxy.finish() }
    try proxy.send(Self.get)
    let slot = try proxy.accept()
    #expect(proxy.traffic?.inFlight == 1)
    try proxy.client.close().wait()
    #expect(!slot.isActive)
    #expect(proxy.traffic?.inFlight == 0)
  }

  @Test("a connection opened after its client left is pooled for the next request")
  func lateConnectPooled() throws {
    let proxy = try EmbeddedProxy(table: EmbeddedProxy.table([EmbeddedProxy.slotA]))
    defer { proxy.finish() }
    try proxy.send(Self.get)
    try proxy.client.close().wait()
    let slot = try proxy.accept()
    #expect(slot.isActive)
    #expect(proxy.context.hasIdle(EmbeddedProxy.slotA))
  }

  @Test("a connection idle past the idle timeout is closed")
  func idleTimeout() throws {
    let proxy = try EmbeddedProxy(idleTimeout: .seconds(2))
    defer { proxy.finish() }
    proxy.loop.advanceTime(by: .milliseconds(1500))
    #expect(proxy.client.isActive)
    proxy.loop.advanceTime(by: .seconds(1))
    #expect(!proxy.client.isActive)
  }
}
