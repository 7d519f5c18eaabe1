import Foundation
import HTTPFraming
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import RouteTable
import SchedModel

/// The proxy's listeners and event loops: the production listener, the optional preview
/// listener, and one `LoopContext` per loop. Counting and warming hop onto each loop.
public final class Proxy: @unchecked Sendable {
  let config: RouterConfig
  let routes: RouteState
  let group: MultiThreadedEventLoopGroup
  let contexts: [ObjectIdentifier: LoopEntry]
  private let channels: [any Channel]
  /// The router's own loops serving the plain listeners (`RouterConfig.DataPath.epoll`); each
  /// listener is touched only on its loop (hence `@unchecked Sendable`).
  private let epollLoops: [EpollLoop]
  private let epollListeners: [(EpollLoop, EpollListener)]
  /// The listening sockets by listener name (its shards, one per event loop when the socket
  /// allows port reuse), kept open for the process's life so that an upgrade can hand them to
  /// the next router.
  let listenerFDs: [String: [Int32]]
  private let listenersOpen = NIOLockedValueBox(true)

  /// The production port actually bound.
  public var port: Int { ports[ListenerSockets.live] ?? 0 }
  /// The preview port actually bound, if there is a preview listener.
  public var previewPort: Int? { ports[ListenerSockets.preview] }
  /// The HTTPS port actually bound, if there is an HTTPS listener.
  public var tlsPort: Int? { ports[ListenerSockets.tls] }
  private let ports: [String: Int]
  /// The HTTPS listener's certificates; nil without one.
  let edge: EdgeTLS?

  private init(
    config: RouterConfig, routes: RouteState, group: MultiThreadedEventLoopGroup,
    contexts: [ObjectIdentifier: LoopEntry], channels: [any Channel],
    epoll: (loops: [EpollLoop], listeners: [(EpollLoop, EpollListener)]),
    listenerFDs: [String: [Int32]], ports: [String: Int], edge: EdgeTLS?
  ) {
    self.ports = ports
    self.epollLoops = epoll.loops
    self.epollListeners = epoll.listeners
    self.edge = edge
    self.listenerFDs = listenerFDs
    self.config = config
    self.routes = routes
    self.group = group
    self.contexts = contexts
    self.channels = channels
  }

  static func start(config: RouterConfig, routes: RouteState, edge: EdgeTLS? = nil) async throws
    -> Proxy
  {
    // SwiftNIO's loops serve HTTPS, and plain HTTP too unless the router's own loops do.
    let tls = config.tlsPort != nil && edge != nil
    let nioServes = config.dataPath == .nio || tls
    let group = MultiThreadedEventLoopGroup(numberOfThreads: nioServes ? config.threads : 1)
    var contexts: [ObjectIdentifier: LoopEntry] = [:]
    for loop in group.makeIterator() where nioServes {
      contexts[ObjectIdentifier(loop)] = try await LoopEntry(loop, config: config)
    }
    var epollLoops: [EpollLoop] = []
    if config.dataPath == .epoll {
      for index in 0..<config.threads {
        let loop = try EpollLoop(name: "router-loop-\(index)")
        contexts[ObjectIdentifier(loop)] = try await LoopEntry(loop, config: config)
        epollLoops.append(loop)
      }
    }
    var channels: [any Channel] = []
    var epollListeners: [(EpollLoop, EpollListener)] = []
    var ports: [String: Int] = [:]
    var fds: [String: [Int32]] = [:]
    var listeners = [(ListenerSockets.live, config.listenHost, config.listenPort)]
    if let preview = config.previewPort {
      listeners.append((ListenerSockets.preview, config.previewHost, preview))
    }
    if let port = config.tlsPort, edge != nil {
      listeners.append((ListenerSockets.tls, config.tlsHost, port))
    }
    do {
      for (name, host, port) in listeners {
        var shards =
          try config.inheritedListeners[name] ?? [
            ListenerSockets.open(host: host, port: port)
          ]
        fds[name] = shards
        ports[name] = ListenerSockets.port(of: shards[0])
        let plain = name != ListenerSockets.tls
        let listener: ProxyRoute.Listener = name == ListenerSockets.preview ? .preview : .live
        // A socket per loop (SO_REUSEPORT): the kernel spreads new connections over them and
        // each is served by the loop that accepted it, with no hop to another thread.
        let loops: [any EventLoop] =
          plain && !epollLoops.isEmpty ? epollLoops : Array(group.makeIterator())
        while shards.count < loops.count, let shard = try? ListenerSockets.shard(of: shards[0]) {
          shards.append(shard)
          fds[name] = shards
        }
        // Sockets that could not be sharded (systemd's without ReusePort=yes): on SwiftNIO's
        // loops each is accepted on one loop and its connections spread over all of them (the
        // router's own loops all watch it, below).
        let ownLoops = shards.count >= loops.count
        if plain, !epollLoops.isEmpty {
          // The router's own loops: each accepts from its shard; a socket that could not be
          // sharded is watched by every loop, one of them woken per connection.
          for (index, loop) in epollLoops.enumerated() {
            let fd = shards[index % shards.count]
            let context = contexts[ObjectIdentifier(loop)]!.context
            let copy = try ListenerSockets.duplicate(fd)
            let accepting = try await loop.submit {
              UnsafeTransfer(
                EpollListener(
                  fd: copy, loop: loop, context: context.value, routes: routes,
                  listener: listener))
            }.get()
            epollListeners.append((loop, accepting.value))
          }
          continue
        }
        for (index, fd) in shards.enumerated() {
          let loop = loops[index % loops.count]
          let channel = try await bind(
            fd: try ListenerSockets.duplicate(fd), listener: listener,
            tls: name == ListenerSockets.tls ? edge : nil,
            config: config, routes: routes, loop: loop,
            children: ownLoops ? loop : group, contexts: contexts)
          channels.append(channel)
        }
      }
    } catch {
      for channel in channels { try? await channel.close() }
      for (loop, listener) in epollListeners {
        let listener = UnsafeTransfer(listener)
        try? await loop.submit { listener.value.close() }.get()
      }
      for fd in fds.values.joined() { Glibc.close(fd) }
      try? await group.shutdownGracefully()
      for loop in epollLoops { try? await loop.shutdownGracefully() }
      if let error = error as? RouterError { throw error }
      throw RouterError(
        .bind,
        "cannot listen on \(channels.isEmpty ? "\(config.listenHost):\(config.listenPort)" : "\(config.previewHost):\(config.previewPort ?? 0)"): \(error); pick a free address with --listen or --preview-listen"
      )
    }
    return Proxy(
      config: config, routes: routes, group: group, contexts: contexts, channels: channels,
      epoll: (epollLoops, epollListeners), listenerFDs: fds, ports: ports, edge: edge)
  }

  private static func bind(
    fd: Int32, listener: ProxyRoute.Listener, tls: EdgeTLS?, config: RouterConfig,
    routes: RouteState, loop: any EventLoop, children: any EventLoopGroup,
    contexts: [ObjectIdentifier: LoopEntry]
  ) async throws -> any Channel {
    try await ServerBootstrap(group: loop, childGroup: children)
      .serverChannelOption(.backlog, value: 1024)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        let loop = contexts[ObjectIdentifier(channel.eventLoop)]!.context
        // Set here, in place: as child channel options each went through a chain of futures,
        // a tenth of a new connection's instructions.
        do {
          let options = channel.syncOptions
          try options?.setOption(.socketOption(.tcp_nodelay), value: 1)
          try options?.setOption(.maxMessagesPerRead, value: 16)
        } catch {
          return channel.eventLoop.makeFailedFuture(error)
        }
        guard let tls else {
          return channel.eventLoop.makeCompletedFuture {
            // One handler: the proxy reads and writes bytes itself (see ProxyHandler).
            try channel.pipeline.syncOperations.addHandler(
              ProxyHandler(loop: loop.value, routes: routes, listener: listener))
          }
        }
        // HTTPS: TLS in front, the certificate chosen per handshake by the name asked for;
        // then HTTP/2 or HTTP/1.1 as the client and ALPN agreed.
        do {
          try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
        } catch {
          return channel.eventLoop.makeFailedFuture(error)
        }
        return channel.configureHTTP2SecureUpgrade(
          h2ChannelConfigurator: { channel in
            // Frame mode, no child channel per stream: HTTP2ProxyHandler proxies the streams;
            // the frames of one flush reach TLS as one write (one record).
            channel.eventLoop.makeCompletedFuture {
              try channel.pipeline.syncOperations.addHandlers([
                WriteCoalescer(),
                NIOHTTP2Handler(
                  mode: .server,
                  connectionConfiguration: HTTP2ProxyHandler.connectionConfiguration,
                  streamConfiguration: .init()),
                HTTP2ProxyHandler(loop: loop.value, routes: routes, listener: listener),
              ])
            }
          },
          http1ChannelConfigurator: { channel in
            channel.eventLoop.makeCompletedFuture {
              try channel.pipeline.syncOperations.addHandler(
                ProxyHandler(loop: loop.value, routes: routes, listener: listener, secure: true))
            }
          })
      }
      .withBoundSocket(fd).get()
  }

  /// Traffic per app and color, summed over every event loop.
  func traffic() async -> [SetTraffic] {
    var parts: [SetTraffic] = []
    for entry in contexts.values {
      let context = entry.context
      if let values = try? await entry.loop.submit({ context.value.traffic }).get() {
        parts += values
      }
    }
    return SetTraffic.merged(parts)
  }

  /// Requests in flight to one app color, over every loop.
  func inFlight(app: String, color: Color) async -> Int64 {
    // Production and preview requests alike: a drain waits for every one to the set.
    await traffic().filter { $0.app == app && $0.color == color }.reduce(0) { $0 + $1.inFlight }
  }

  /// Opens a connection to every upstream that `table` makes live and the served table does
  /// not, on every loop that has none open to it; the future succeeds when they are open or
  /// `config.warmTimeout` passed (failures are the balancer's to handle). Upstreams already
  /// live have pools of their own. When every loop already has them (a rollback, a switch back
  /// and forth), it succeeds at once, without a hop to any loop.
  func warm(_ table: RouteTable, on loop: any EventLoop) -> EventLoopFuture<Void> {
    let served = Set(routes.current.table.apps.flatMap { $0.live?.upstreams ?? [] })
    let upstreams = table.apps.flatMap { $0.live?.upstreams ?? [] }.filter {
      !served.contains($0)
    }
    let keys = Set(upstreams.map(PoolKey.init))
    let cold = contexts.values.filter { entry in
      !entry.connected.withLockedValue { keys.isSubset(of: $0) }
    }
    guard !cold.isEmpty else { return loop.makeSucceededVoidFuture() }
    let futures = cold.map { entry in
      let context = entry.context
      return entry.loop.flatSubmit { context.value.warm(upstreams) }
    }
    let done = loop.makePromise(of: Void.self)
    EventLoopFuture.andAllComplete(futures, on: loop).cascade(to: done)
    let deadline = loop.scheduleTask(in: config.warmTimeout) { done.succeed(()) }
    done.futureResult.whenComplete { _ in deadline.cancel() }
    return done.futureResult
  }

  /// The served table changed from `before`: requests waiting on slots it no longer has are
  /// told, on every loop (nothing when no slot went).
  func tableChanged(from before: RouteTable) {
    let now = routes.current
    let kept = Set(
      now.table.apps.flatMap { [$0.live, $0.candidate].compactMap { $0 } }.flatMap(\.upstreams))
    let gone = Set(
      before.apps.flatMap { [$0.live, $0.candidate].compactMap { $0 } }.flatMap(\.upstreams)
    ).subtracting(kept)
    guard !gone.isEmpty else { return }
    for entry in contexts.values {
      let context = entry.context
      entry.loop.execute { context.value.withdrawn(gone, routes: now) }
    }
  }

  /// Stops accepting, lets every client connection end after its answer under way (idle
  /// ones close after a short grace), and waits up to `timeout` for them to go. Returns how
  /// many were still open at the end (`close` cuts them).
  public func drain(timeout: Duration) async -> Int {
    await stopAccepting()
    for entry in contexts.values {
      let context = entry.context
      try? await entry.loop.submit { context.value.drainClients() }.get()
    }
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
      let open = await openClients()
      if open == 0 || clock.now >= deadline { return open }
      try? await Task.sleep(for: .milliseconds(20))
    }
  }

  /// Client connections open now, over every loop.
  func openClients() async -> Int {
    var count = 0
    for entry in contexts.values {
      let context = entry.context
      count += (try? await entry.loop.submit { context.value.clients.count }.get()) ?? 0
    }
    return count
  }

  func close() async {
    await stopAccepting()
    try? await group.shutdownGracefully()
    for loop in epollLoops { try? await loop.shutdownGracefully() }
  }

  /// Closes the listeners and this process's descriptors of their sockets: a socket handed
  /// to a new router goes on listening there; one that was this process's alone closes, and
  /// connections are refused from now on (none waits in a queue nobody reads).
  private func stopAccepting() async {
    let first = listenersOpen.withLockedValue { open in
      defer { open = false }
      return open
    }
    guard first else { return }
    for channel in channels { try? await channel.close() }
    for (loop, listener) in epollListeners {
      let listener = UnsafeTransfer(listener)
      try? await loop.submit { listener.value.close() }.get()
    }
    for fd in listenerFDs.values.joined() { Glibc.close(fd) }
  }
}

/// An event loop, the context only it may touch, and the upstreams it has connections to.
struct LoopEntry: Sendable {
  let loop: any EventLoop
  let context: NIOLoopBound<LoopContext>
  let connected: NIOLockedValueBox<Set<PoolKey>>

  /// A new context for `loop`, made on it.
  init(_ loop: any EventLoop, config: RouterConfig) async throws {
    let connected = NIOLockedValueBox<Set<PoolKey>>([])
    self.loop = loop
    self.connected = connected
    self.context = try await loop.submit {
      NIOLoopBound(
        LoopContext(eventLoop: loop, config: config, connected: connected), eventLoop: loop)
    }.get()
  }
}
