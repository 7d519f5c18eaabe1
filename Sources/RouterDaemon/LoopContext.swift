import Foundation
import HTTPFraming
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import RouteTable
import SchedModel

/// One app color on one route: the key for counters (production and preview apart).
struct CounterKey: Hashable {
  var set: SetKey
  var route: TrafficRoute
}

/// Where an upstream listens; pools are per address, not per slot.
struct PoolKey: Hashable, Sendable {
  var address: String
  var port: Int

  init(_ upstream: Upstream) {
    address = upstream.address
    port = upstream.port
  }
}

/// Everything one event loop keeps for itself: idle upstream connections, a balancer per set,
/// and its share of the traffic counters. Touched only on its loop, so the request path takes no
/// lock and makes no hop.
final class LoopContext {
  let eventLoop: any EventLoop
  let config: RouterConfig
  let limits: ProxyLimits
  private let connector: any UpstreamConnector
  private var idle: [PoolKey: [UpstreamHandler]] = [:]
  /// Open connections per upstream (idle or busy), and the upstreams with at least one, for
  /// other loops to read: a switch's warm-up hops to this loop only when one it needs is not
  /// there. Changes on connect and close only, never per request.
  private var open: [PoolKey: Int] = [:]
  let connected: NIOLockedValueBox<Set<PoolKey>>
  private var balancers: [SetKey: Balancer] = [:]
  private var sets: [CounterKey: SetCounters] = [:]
  /// The client connections open on this loop, for a drain to reach.
  var clients: [ObjectIdentifier: ProxyHandler] = [:]
  /// Set once the router drains: new connections (accepted before the listener closed) drain
  /// from their start.
  private(set) var draining = false

  /// Every client connection on this loop closes after its answer under way, or once idle.
  func drainClients() {
    draining = true
    for client in clients.values { client.drain() }
  }

  init(
    eventLoop: any EventLoop, config: RouterConfig,
    connected: NIOLockedValueBox<Set<PoolKey>> = NIOLockedValueBox([]),
    connector: any UpstreamConnector = SocketConnector()
  ) {
    self.eventLoop = eventLoop
    self.config = config
    self.limits = ProxyLimits(config)
    self.connected = connected
    self.connector = connector
  }

  /// The loop's time: the clock's in the router, a manual one in tests.
  var now: NIODeadline { eventLoop.now }

  // MARK: balancing

  /// The next slot of `set` for a request, not in `excluding`; from `among` (part of the
  /// set) when given.
  func pick(
    _ set: RouteSet, app: String, excluding: Set<Upstream>, among: [Upstream]? = nil
  ) -> Upstream? {
    let key = SetKey(app: app, color: set.color)
    return balancers[key, default: Balancer()].pick(
      from: among ?? set.upstreams, excluding: excluding, now: Date())
  }

  /// The scheduler withdrew `gone` (their nodes are down, or their sets changed): requests
  /// waiting on them with nothing answered yet go elsewhere when that is safe.
  func withdrawn(_ gone: Set<Upstream>, routes: CompiledRoutes) {
    for client in clients.values { client.withdrawn(gone, routes: routes) }
  }

  func failed(_ upstream: Upstream) {
    balancers[SetKey(app: upstream.slot.app, color: upstream.slot.color), default: Balancer()]
      .failed(upstream, now: Date())
  }

  func succeeded(_ upstream: Upstream) {
    let key = SetKey(app: upstream.slot.app, color: upstream.slot.color)
    if balancers[key] != nil { balancers[key]!.succeeded(upstream) }
  }

  // MARK: counting

  /// Counts a request to `key` as in flight; the box is kept by the exchange so finishing it
  /// takes no lookup.
  func started(_ key: CounterKey) -> SetCounters {
    let counters = self.counters(key)
    counters.traffic.inFlight += 1
    return counters
  }

  func finished(_ counters: SetCounters?, _ kind: StatusClass?, since start: NIODeadline) {
    guard let counters else { return }
    counters.traffic.inFlight -= 1
    if let kind { record(kind, in: counters, since: start) }
  }

  /// A request a slot answered with a protocol switch (a WebSocket): its status and latency
  /// count now; it stays in flight, so a drain waits for it, until its connection closes and
  /// `finished` is called with no class.
  func switchedProtocols(_ counters: SetCounters?, since start: NIODeadline) {
    guard let counters else { return }
    record(.success, in: counters, since: start)
  }

  /// A request the router answered itself, never in flight.
  func answered(_ key: CounterKey, _ kind: StatusClass, since start: NIODeadline) {
    record(kind, in: counters(key), since: start)
  }

  private func record(_ kind: StatusClass, in counters: SetCounters, since start: NIODeadline) {
    counters.traffic.record(kind, micros: (now - start).nanoseconds / 1000)
  }

  private func counters(_ key: CounterKey) -> SetCounters {
    if let existing = sets[key] { return existing }
    let created = SetCounters(SetTraffic(app: key.set.app, color: key.set.color, route: key.route))
    sets[key] = created
    return created
  }

  /// This loop's share of every set's traffic.
  var traffic: [SetTraffic] { sets.values.map(\.traffic) }

  // MARK: pooling

  /// An idle connection to `upstream`, newest first; stale ones are closed on the way.
  func take(_ upstream: Upstream) -> UpstreamHandler? {
    let key = PoolKey(upstream)
    let now = self.now
    // Popped in place: copying the list out of the dictionary would copy its storage.
    while let connection = idle[key]?.popLast() {
      if idle[key]?.isEmpty == true { idle[key] = nil }
      connection.pooled = false
      if connection.isOpen, now - connection.idleSince < config.upstreamIdleTimeout {
        return connection
      }
      connection.close()
    }
    return nil
  }

  /// Keeps a connection that finished its exchange cleanly, if there is room.
  func put(_ connection: UpstreamHandler) {
    let key = PoolKey(connection.upstream)
    guard connection.isOpen, idle[key, default: []].count < config.maxIdlePerUpstream else {
      connection.close()
      return
    }
    connection.delegate = nil
    connection.setAutoRead(true)
    connection.idleSince = now
    connection.pool = self
    connection.pooled = true
    idle[key, default: []].append(connection)
  }

  func forget(_ connection: UpstreamHandler) {
    let key = PoolKey(connection.upstream)
    idle[key]?.removeAll { $0 === connection }
    if idle[key]?.isEmpty == true { idle[key] = nil }
  }

  func hasIdle(_ upstream: Upstream) -> Bool { !(idle[PoolKey(upstream)]?.isEmpty ?? true) }

  /// Opens a connection to `upstream` on this loop.
  func connect(_ upstream: Upstream) -> EventLoopFuture<UpstreamHandler> {
    connector.connect(upstream, on: eventLoop, timeout: config.connectTimeout)
      .assumeIsolated()
      .flatMapThrowing { channel in
        let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
        self.opened(PoolKey(upstream), channel)
        return handler
      }
      .nonisolated()
  }

  private func opened(_ key: PoolKey, _ channel: any Channel) {
    open[key, default: 0] += 1
    if open[key] == 1 { connected.withLockedValue { _ = $0.insert(key) } }
    channel.closeFuture.assumeIsolated().whenComplete { _ in
      let left = (self.open[key] ?? 1) - 1
      self.open[key] = left > 0 ? left : nil
      if left <= 0 { self.connected.withLockedValue { _ = $0.remove(key) } }
    }
  }

  /// Opens a connection to each upstream this loop has none open to, so the first requests
  /// after a switch skip the connect. Failures are left to the balancer.
  func warm(_ upstreams: [Upstream]) -> EventLoopFuture<Void> {
    let missing = upstreams.filter { open[PoolKey($0)] == nil }
    let futures = missing.map { upstream in
      connect(upstream).assumeIsolated().map { connection in
        self.put(connection)
      }.nonisolated()
    }
    return EventLoopFuture.andAllComplete(futures, on: eventLoop)
  }
}

/// One set's counters on one loop, by reference so an exchange can hold them.
final class SetCounters {
  var traffic: SetTraffic

  init(_ traffic: SetTraffic) { self.traffic = traffic }
}

/// Opens connections to upstream slots, each with an `UpstreamHandler` as its last handler:
/// TCP sockets in the router, embedded channels in tests.
protocol UpstreamConnector: Sendable {
  func connect(_ upstream: Upstream, on loop: any EventLoop, timeout: TimeAmount)
    -> EventLoopFuture<any Channel>
}

/// The router's connector: a TCP connection with no Nagle delay.
struct SocketConnector: UpstreamConnector {
  func connect(_ upstream: Upstream, on loop: any EventLoop, timeout: TimeAmount)
    -> EventLoopFuture<any Channel>
  {
    ClientBootstrap(group: loop)
      .connectTimeout(timeout)
      .channelOption(.socketOption(.tcp_nodelay), value: 1)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(UpstreamHandler(upstream: upstream))
        }
      }
      .connect(host: upstream.address, port: upstream.port)
  }
}
