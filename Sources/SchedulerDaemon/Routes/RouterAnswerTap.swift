import NIOCore
import OperatorAPI
import SchedWire
import Synchronization
import WireTransport

/// Sits on every cluster-port connection between the line decoder and the session's task. Once
/// the connection is an admitted router's, it takes that router's answers (`route_ack`,
/// `drained`) straight to `RouterAnswers` on the event loop that read them, so a switch's
/// round trip does not wait for the session's task to be scheduled. Every other line, and
/// every line before the router is admitted, goes on to the session unchanged.
final class RouterAnswerTap: ChannelInboundHandler, Sendable {
  typealias InboundIn = LineFrame
  typealias InboundOut = LineFrame

  private let owner = Mutex<(answers: RouterAnswers, session: ObjectIdentifier)?>(nil)

  init() {}

  /// The connection is the router session `session`'s: its answers go to `answers` from now on.
  func claim(_ answers: RouterAnswers, for session: ObjectIdentifier) {
    owner.withLock { $0 = (answers, session) }
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if let owner = owner.withLock({ $0 }), case .line(let bytes) = unwrapInboundIn(data),
      Self.isAnswer(bytes.readableBytesView),
      case .success(let frame) = LineCodec.decode(bytes.readableBytesView), let id = frame.id,
      Self.isAnswer(frame.message)
    {
      if owner.answers.answered(id, frame.message, from: owner.session) { return }
    }
    context.fireChannelRead(data)
  }

  /// Whether a line is a `route_ack`, `drained` or `preview_checked` frame, from its head alone (frames start
  /// `{"v":N,"type":"...`): other lines, router reports above all, are not decoded here.
  static func isAnswer(_ line: ByteBufferView) -> Bool {
    let head = String(decoding: line.prefix(40), as: UTF8.self)
    return head.contains(#""type":"route_ack""#) || head.contains(#""type":"drained""#)
      || head.contains(#""type":"preview_checked""#)
  }

  private static func isAnswer(_ message: ClusterMessage) -> Bool {
    switch message {
    case .routeAck, .drained, .previewChecked: true
    default: false
    }
  }
}
