import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A listener on 127.0.0.1 (a free port) whose every connection gets the handlers `configure`
/// adds to its pipeline.
func testListener(
  _ configure: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void
) async throws -> any Channel {
  try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
      channel.eventLoop.makeCompletedFuture { try configure(channel.pipeline.syncOperations) }
    }
    .bind(host: "127.0.0.1", port: 0).get()
}

/// A small HTTP/1.1 server on 127.0.0.1 for proxy tests: answers with its name, echoes bodies
/// (`/echo`), sends large bodies (`/big?n=BYTES`), any status (`/status/CODE`), keeps alive.
final class TestBackend: Sendable {
  let name: String
  let channel: any Channel

  var port: Int { channel.localAddress!.port! }

  private init(name: String, channel: any Channel) {
    self.name = name
    self.channel = channel
  }

  static func start(_ name: String) async throws -> TestBackend {
    let channel = try await testListener { pipeline in
      try pipeline.configureHTTPServerPipeline()
      try pipeline.addHandler(BackendHandler(name: name))
    }
    return TestBackend(name: name, channel: channel)
  }

  func stop() async { try? await channel.close() }
}

private final class BackendHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  let name: String
  var head: HTTPRequestHead?
  var body = ByteBuffer()

  init(name: String) { self.name = name }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
      body.clear()
    case .body(var part):
      body.writeBuffer(&part)
    case .end:
      guard let head else { return }
      respond(context, head)
    }
  }

  private func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
    var status = HTTPResponseStatus.ok
    var out: ByteBuffer
    let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
    if path == "/echo" {
      out = body
    } else if path == "/big" || path == "/chunked",
      let n = Int(head.uri.split(separator: "=").last ?? "")
    {
      out = ByteBuffer(repeating: UInt8(ascii: "x"), count: n)
    } else if path.hasPrefix("/status/"), let code = Int(path.dropFirst("/status/".count)) {
      status = HTTPResponseStatus(statusCode: code)
      out = ByteBuffer(string: name)
    } else {
      out = ByteBuffer(string: name)
    }
    var headers = HTTPHeaders([
      ("x-backend", name),
      ("x-saw-forwarded-for", head.headers.first(name: "x-forwarded-for") ?? ""),
      ("x-saw-connection", head.headers.first(name: "connection") ?? ""),
    ])
    // `/chunked` leaves the length out, so the encoder frames the body in chunks.
    if path != "/chunked" { headers.add(name: "content-length", value: "\(out.readableBytes)") }
    if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
    context.write(
      wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
      promise: nil)
    if head.method != .HEAD {
      context.write(wrapOutboundOut(.body(.byteBuffer(out))), promise: nil)
    }
    let keepAlive = head.isKeepAlive
    context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
      if !keepAlive { context.close(promise: nil) }
    }
  }
}

/// A backend that answers every connection with the same raw bytes, then closes it: for
/// answers a well-behaved server would not send.
final class RawBackend: Sendable {
  let channel: any Channel
  var port: Int { channel.localAddress!.port! }

  private init(channel: any Channel) { self.channel = channel }

  static func start(answer: String) async throws -> RawBackend {
    RawBackend(channel: try await testListener { try $0.addHandler(RawAnswer(answer: answer)) })
  }

  func stop() async { try? await channel.close() }
}

private final class RawAnswer: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  let answer: String
  var answered = false

  init(answer: String) { self.answer = answer }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !answered else { return }
    answered = true
    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer))).assumeIsolated()
      .whenComplete { _ in context.close(promise: nil) }
  }
}

/// A backend that takes WebSocket-style upgrades: to a request asking for one it answers 101
/// and a greeting, then echoes what it reads upper-cased, and closes on `bye`. A request that
/// does not ask gets 400. Keeps every request head it read, lower-cased.
final class UpgradeBackend: Sendable {
  let channel: any Channel
  let heads: NIOLockedValueBox<[String]>
  var port: Int { channel.localAddress!.port! }

  private init(channel: any Channel, heads: NIOLockedValueBox<[String]>) {
    self.channel = channel
    self.heads = heads
  }

  static func start() async throws -> UpgradeBackend {
    let heads = NIOLockedValueBox<[String]>([])
    let channel = try await testListener { try $0.addHandler(UpgradeAnswer(heads: heads)) }
    return UpgradeBackend(channel: channel, heads: heads)
  }

  func stop() async { try? await channel.close() }
}

private final class UpgradeAnswer: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  let heads: NIOLockedValueBox<[String]>
  var pending = ""
  var upgraded = false

  init(heads: NIOLockedValueBox<[String]>) { self.heads = heads }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    pending += String(buffer: unwrapInboundIn(data))
    if !upgraded {
      guard let end = pending.range(of: "\r\n\r\n") else { return }
      let head = pending[..<end.lowerBound].lowercased()
      pending = String(pending[end.upperBound...])
      heads.withLockedValue { $0.append(head) }
      guard head.contains("\r\nupgrade: websocket"), head.contains("\r\nconnection: upgrade")
      else {
        let body = "no upgrade asked"
        context.writeAndFlush(
          wrapOutboundOut(
            ByteBuffer(
              string:
                "HTTP/1.1 400 Bad Request\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")),
          promise: nil)
        return
      }
      upgraded = true
      context.write(
        wrapOutboundOut(
          ByteBuffer(
            string:
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello-from-slot"
          )), promise: nil)
    }
    if pending.contains("bye") {
      context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "BYE"))).assumeIsolated()
        .whenComplete { _ in context.close(promise: nil) }
      return
    }
    if !pending.isEmpty {
      context.write(wrapOutboundOut(ByteBuffer(string: pending.uppercased())), promise: nil)
      pending = ""
    }
    context.flush()
  }
}
