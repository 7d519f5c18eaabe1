import NIOCore
import SchedWire

/// Sits in front of the TLS handler on the cluster port: a connection whose first byte is
/// not a TLS record (an agent started with `--insecure-cluster`, an older one, or a browser)
/// gets an answer it can show, in plain text, and is closed; TLS connections pass untouched.
final class PlainTextGuard: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer

  /// A TLS record that carries a handshake starts with this content type.
  static let handshakeRecord: UInt8 = 0x16

  static let message =
    "this cluster port speaks TLS: give the agent or router the whole join token (TRN-1-..., from schedctl node join-command), or start the scheduler with --insecure-cluster to speak plain TCP"

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = unwrapInboundIn(data)
    guard let first = buffer.readableBytesView.first, first != Self.handshakeRecord else {
      context.fireChannelRead(data)
      context.pipeline.syncOperations.removeHandler(self, promise: nil)
      return
    }
    let answer: [UInt8]
    if WrongPort.isHTTPRequest(buffer.readableBytesView) {
      answer = WrongPort.clusterPortAnswer
    } else {
      answer = LineCodec.encodeLine(
        Frame(.error(ErrorReply(code: .unauthorized, message: Self.message))))
    }
    context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: answer))).whenComplete { _ in
      context.close(promise: nil)
    }
  }

  typealias OutboundOut = ByteBuffer
}
