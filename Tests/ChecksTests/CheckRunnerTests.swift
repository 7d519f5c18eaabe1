import Checks
import NIOCore
import NIOPosix
import SchedModel
import Testing

/// Infra checks against real sockets on loopback: a TCP listener, an HTTP answer, a closed port.
@Suite("Check runner")
struct CheckRunnerTests {
  /// A listener answering every connection with one fixed HTTP response, then closing.
  static func answering(_ response: String) async throws -> any Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(Answer(response: response))
        }
      }
      .bind(host: "127.0.0.1", port: 0).get()
  }

  final class Answer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let response: String
    init(response: String) { self.response = response }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
        context.close(promise: nil)
      }
    }
  }

  @Test("HTTP checks pass on the expected status and body, and say what was wrong otherwise")
  func http() async throws {
    let server = try await Self.answering(
      "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
    defer { server.close(promise: nil) }
    let address = "127.0.0.1:\(server.localAddress!.port!)"
    let passed = await CheckRunner.run(
      CheckSpec(name: "home", http: HTTPCheck(path: "/", bodyContains: "hell")), address: address,
      hostHeader: nil, expect: nil)
    #expect(passed.passed, "\(passed.detail)")
    #expect(passed.detail.hasPrefix("200 in "))
    let failed = await CheckRunner.run(
      CheckSpec(name: "home", http: HTTPCheck(path: "/", status: 204, bodyContains: "bye")),
      address: address, hostHeader: nil, expect: (.green, "d2"))
    #expect(!failed.passed)
    #expect(failed.detail.contains("status 200, expected 204"))
    #expect(failed.detail.contains("does not contain 'bye'"))
    #expect(failed.detail.contains("no x-turnout-color stamp"))
  }

  @Test("a TCP check passes on an open port and fails on a closed one")
  func tcp() async throws {
    let server = try await Self.answering("")
    let port = server.localAddress!.port!
    let open = await CheckRunner.run(
      CheckSpec(name: "port", http: nil), address: "127.0.0.1:\(port)", hostHeader: nil,
      expect: nil)
    #expect(open.passed && open.detail == "port open")
    try await server.close()
    let closed = await CheckRunner.run(
      CheckSpec(name: "port", http: nil, timeoutMillis: 500), address: "127.0.0.1:\(port)",
      hostHeader: nil, expect: nil)
    #expect(!closed.passed && closed.detail.hasPrefix("cannot connect"))
    #expect(CheckRunner.split("[::1]:8080")! == ("::1", 8080))
    #expect(CheckRunner.split("nohost") == nil)
  }
}
