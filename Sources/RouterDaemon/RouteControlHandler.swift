import HTTPFraming
import Logging
import NIOCore
import RouteTable
import SchedWire
import WireTransport

/// Answers the scheduler's route messages (install, prepare, commit, abort) on the control
/// connection's event loop, as they are read: a switch waits on these acks, so they skip the
/// hop to the session's task. Everything else goes on to `ControlSession`.
///
/// Route messages count only after a `welcome` from this router's cluster: a scheduler of
/// another cluster (a wrong database) cannot change what is served.
final class RouteControlHandler: ChannelInboundHandler {
  typealias InboundIn = LineFrame
  typealias InboundOut = LineFrame
  typealias OutboundOut = ByteBuffer

  private let routes: RouteState
  private let proxy: Proxy
  private let cluster: PinnedCluster
  private let logger: Logger

  private enum Standing {
    case awaitingWelcome
    case following
    case refused
  }
  private var standing = Standing.awaitingWelcome

  init(routes: RouteState, proxy: Proxy, cluster: PinnedCluster, logger: Logger) {
    self.routes = routes
    self.proxy = proxy
    self.cluster = cluster
    self.logger = logger
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard case .line(let bytes) = unwrapInboundIn(data),
      case .success(let frame) = LineCodec.decode(bytes.readableBytesView)
    else {
      context.fireChannelRead(data)
      return
    }
    switch (standing, frame.message) {
    case (_, .welcome(let welcome)):
      // ControlSession asks the same question and closes on a refusal; the pin's answer is
      // the same both times.
      standing = cluster.admit(welcome.cluster) == nil ? .following : .refused
      context.fireChannelRead(data)
    case (.awaitingWelcome, .routes), (.awaitingWelcome, .commit), (.awaitingWelcome, .abort),
      (.refused, .routes), (.refused, .commit), (.refused, .abort):
      logger.warning(
        "route message from a scheduler not followed; ignored",
        metadata: ["type": "\(frame.message.type.rawValue)"])
    case (.following, .routes(let message)):
      let table = message.table
      let removed = Set(message.removed)
      switch message.phase {
      case .install:
        let taken: Bool
        let before = routes.current.table
        do {
          taken = try routes.install(table, removed: removed)
        } catch {
          logger.error("route table refused", metadata: ["error": "\(error.message)"])
          ack(context, frame, epoch: table.epoch, ok: false, error.message)
          return
        }
        if taken {
          logger.debug("route table installed", metadata: ["epoch": "\(table.epoch)"])
          proxy.tableChanged(from: before)
        }
        ack(
          context, frame, epoch: table.epoch, ok: true,
          taken ? nil : "epoch \(routes.epoch) is already served")
      case .prepare:
        do {
          try routes.prepare(table, removed: removed)
        } catch {
          ack(context, frame, epoch: table.epoch, ok: false, error.message)
          return
        }
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        proxy.warm(table, on: context.eventLoop).whenComplete { _ in
          this.value.ack(bound.value, frame, epoch: table.epoch, ok: true)
        }
      }
    case (.following, .commit(let commit)):
      do {
        let before = routes.current.table
        try routes.commit(epoch: commit.epoch)
        proxy.tableChanged(from: before)
        logger.info("switched", metadata: ["epoch": "\(commit.epoch)"])
        ack(context, frame, epoch: commit.epoch, ok: true)
      } catch {
        ack(context, frame, epoch: commit.epoch, ok: false, error.message)
      }
    case (.following, .certificates(let set)):
      // Only a router with an HTTPS listener keeps keys; the others leave them.
      guard let edge = proxy.edge else { return }
      if edge.certificates.install(set) {
        routes.saveCertificates(edge.certificates.current)
        logger.info(
          "HTTPS certificates installed",
          metadata: ["version": "\(set.version)", "names": "\(set.certificates.map(\.name))"])
      }
    case (.awaitingWelcome, .certificates), (.refused, .certificates):
      logger.warning("certificates from a scheduler not followed; ignored")
    case (.following, .abort(let abort)):
      routes.abort(epoch: abort.epoch)
      logger.notice(
        "switch aborted", metadata: ["epoch": "\(abort.epoch)", "reason": "\(abort.reason)"])
    default:
      context.fireChannelRead(data)
    }
  }

  private func ack(
    _ context: ChannelHandlerContext, _ frame: Frame, epoch: Int64, ok: Bool,
    _ message: String? = nil
  ) {
    let reply = Frame(id: frame.id, .routeAck(RouteAck(epoch: epoch, ok: ok, message: message)))
    context.writeAndFlush(
      wrapOutboundOut(ByteBuffer(bytes: LineCodec.encodeLine(reply))), promise: nil)
  }
}
