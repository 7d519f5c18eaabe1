import NIOCore
import NIOEmbedded
import RouteTable
import SchedModel
import Synchronization

@testable import RouterDaemon

/// Connections to slots as embedded channels, opened when the test says so.
final class EmbeddedConnector: UpstreamConnector {
  let pending = Mutex<[(Upstream, EventLoopPromise<any Channel>)]>([])

  func connect(_ upstream: Upstream, on loop: any EventLoop, timeout: TimeAmount)
    -> EventLoopFuture<any Channel>
  {
    let promise = loop.makePromise(of: (any Channel).self)
    pending.withLock { $0.append((upstream, promise)) }
    return promise.futureResult
  }

  /// The slots connections are being opened to, oldest first.
  var waiting: [Upstream] { pending.withLock { $0.map(\.0) } }
}

/// One client connection of the proxy on an embedded loop: the client and every slot
/// connection are `EmbeddedChannel`s, time moves only when the test moves it.
final class EmbeddedProxy {
  let loop = EmbeddedEventLoop()
  let connector = EmbeddedConnector()
  let context: LoopContext
  let handler: ProxyHandler
  let client: EmbeddedChannel
  /// Every slot connection opened so far.
  private(set) var upstreams: [EmbeddedChannel] = []

  static let slotA = Upstream(
    slot: SlotID(app: "web", color: .blue, index: 0), address: "10.0.0.1", port: 8080)
  static let slotB = Upstream(
    slot: SlotID(app: "web", color: .blue, index: 1), address: "10.0.0.2", port: 8080)

  static func table(_ upstreams: [Upstream] = [slotA, slotB]) -> RouteTable {
    RouteTable(
      epoch: 1,
      apps: [
        AppRoutes(
          app: "web", hosts: ["web.test"],
          live: RouteSet(color: .blue, deployment: "d1", image: "web:1", upstreams: upstreams))
      ])
  }

  init(
    table: RouteTable = table(), responseTimeout: TimeAmount = .seconds(5),
    idleTimeout: TimeAmount = .seconds(60)
  ) throws {
    var config = RouterConfig(name: "test", schedulerHost: nil, idleTimeout: idleTimeout)
    config.responseTimeout = responseTimeout
    context = LoopContext(eventLoop: loop, config: config, connector: connector)
    let routes = try RouteState(stateFile: nil)
    try routes.install(table)
    handler = ProxyHandler(loop: context, routes: routes, listener: .live)
    client = EmbeddedChannel(handler: handler, loop: loop)
    try client.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: 40000)).wait()
  }

  func send(_ text: String) throws {
    try client.writeInbound(ByteBuffer(string: text))
  }

  /// Everything written to the client since the last call.
  func received() throws -> String {
    var text = ""
    while let buffer = try client.readOutbound(as: ByteBuffer.self) {
      text += String(buffer: buffer)
    }
    return text
  }

  /// Opens the oldest pending connection: a new embedded channel with the router's
  /// `UpstreamHandler`, connected.
  @discardableResult
  func accept() throws -> EmbeddedChannel {
    guard
      let (upstream, promise) = connector.pending.withLock({ $0.isEmpty ? nil : $0.removeFirst() })
    else { throw EmbeddedProxyError("no connection is being opened") }
    let channel = EmbeddedChannel(handler: UpstreamHandler(upstream: upstream), loop: loop)
    try channel.connect(to: SocketAddress(ipAddress: upstream.address, port: upstream.port)).wait()
    upstreams.append(channel)
    promise.succeed(channel)
    return channel
  }

  /// Fails the oldest pending connection as a refused connect would.
  func refuse() throws {
    guard let (_, promise) = connector.pending.withLock({ $0.isEmpty ? nil : $0.removeFirst() })
    else { throw EmbeddedProxyError("no connection is being opened") }
    promise.fail(ChannelError.connectTimeout(.seconds(2)))
  }

  /// Everything the proxy wrote to `upstream` since the last call.
  static func received(by upstream: EmbeddedChannel) throws -> String {
    var text = ""
    while let buffer = try upstream.readOutbound(as: ByteBuffer.self) {
      text += String(buffer: buffer)
    }
    return text
  }

  func upstreamHandler(_ channel: EmbeddedChannel) throws -> UpstreamHandler {
    try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
  }

  /// The traffic counted on this loop for the app's blue set.
  var traffic: SetTraffic? { context.traffic.first { $0.app == "web" && $0.color == .blue } }

  func finish() {
    _ = try? client.finish(acceptAlreadyClosed: true)
    for upstream in upstreams { _ = try? upstream.finish(acceptAlreadyClosed: true) }
  }
}

struct EmbeddedProxyError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
