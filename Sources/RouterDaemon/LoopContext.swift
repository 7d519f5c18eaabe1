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

/// What the loop's sweep and a drain reach on every client it serves: a `ProxyHandler` (an
/// HTTP/1.1 connection or an HTTP/2 stream), or an HTTP/2 connection's `HTTP2ProxyHandler`.
protocol LoopClient: AnyObject {
  /// Runs every second or so, from the loop's sweep.
  func checkTimeouts()
  /// The router is going away.
  func drain()
  /// The scheduler withdrew `gone`.
  func withdrawn(_ gone: Set<Upstream>, routes: CompiledRoutes)
}

/// Everything one event loop keeps for itself: idle upstream connections, a balancer per set,
/// and its share of the traffic counters. Touched only on its loop, so the request path takes no
/// lock and makes no hop.
final class LoopContext {
  let eventLoop: any EventLoop
  let config: RouterConfig
  let limits: ProxyLimits
  private let connector: any UpstreamConnector
  private var idle: [PoolKey: IdleList] = [:]
  /// Open connections per upstream (idle or busy), and the upstreams with at least one, for
  /// other loops to read: a switch's warm-up hops to this loop only when one it needs is not
  /// there. Changes on connect and close only, never per request.
  private var open: [PoolKey: Int] = [:]
  let connected: NIOLockedValueBox<Set<PoolKey>>
  private var balancers: [SetKey: BalancerBox] = [:]
  private var sets: [CounterKey: SetCounters] = [:]
  /// The client connections (and HTTP/2 streams) open on this loop, for a drain to reach.
  var clients: [ObjectIdentifier: any LoopClient] = [:]
  /// Set once the router drains: new connections (accepted before the listener closed) drain
  /// from their start.
  private(set) var draining = false

  /// Requests the router answered with an error or cut, for the operator: at most
  /// `ProblemLog.burst` lines a second per loop, then a count of those left out.
  private var problems = ProblemLog()

  /// The loop's one timer, checking every client connection's timeouts.
  private var sweep: RepeatedTask?

  /// Every client connection on this loop closes after its answer under way, or once idle.
  func drainClients() {
    draining = true
    for client in clients.values { client.drain() }
    startSweeping()
  }

  /// A client connection opened on this loop.
  func add(_ client: any LoopClient) {
    clients[ObjectIdentifier(client)] = client
    if sweep == nil { startSweeping() }
  }

  func remove(_ client: any LoopClient) {
    clients[ObjectIdentifier(client)] = nil
  }

  /// Checks every connection's timeouts a quarter of the shortest timeout apart (at most a
  /// second; 50 ms while draining, when idle connections close after a short grace).
  private func startSweeping() {
    sweep?.cancel()
    let shortest = min(limits.responseTimeout, limits.idleTimeout)
    let every =
      draining
      ? TimeAmount.milliseconds(50)
      : min(TimeAmount.seconds(1), .nanoseconds(max(shortest.nanoseconds / 4, 1_000_000)))
    let this = NIOLoopBound(self, eventLoop: eventLoop)
    sweep = eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
      for client in this.value.clients.values { client.checkTimeouts() }
    }
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
  /// set) when given. `balancer` is the set's on this loop (its counters hold it, so a request
  /// takes no look-up).
  func pick(
    _ set: RouteSet, balancer: BalancerBox, excluding: Set<Upstream>, among: [Upstream]? = nil
  ) -> Upstream? {
    balancer.balancer.pick(from: among ?? set.upstreams, excluding: excluding, now: Date())
  }

  /// The scheduler withdrew `gone` (their nodes are down, or their sets changed): requests
  /// waiting on them with nothing answered yet go elsewhere when that is safe.
  func withdrawn(_ gone: Set<Upstream>, routes: CompiledRoutes) {
    for client in clients.values { client.withdrawn(gone, routes: routes) }
  }

  /// Logs a request the router failed (a 502 or 504, or an answer cut short) and why.
  func problem(_ message: String) {
    problems.log(message, now: now)
  }

  func failed(_ upstream: Upstream) {
    balancer(SetKey(app: upstream.slot.app, color: upstream.slot.color)).balancer
      .failed(upstream, now: Date())
  }

  /// `upstream` answered a request counted in `counters`.
  func succeeded(_ upstream: Upstream, in counters: SetCounters) {
    counters.balancer.balancer.succeeded(upstream)
  }

  /// The balancer of one app color on this loop, shared by its production and preview
  /// counters.
  private func balancer(_ key: SetKey) -> BalancerBox {
    if let existing = balancers[key] { return existing }
    let created = BalancerBox()
    balancers[key] = created
    return created
  }

  // MARK: counting

  /// Counts a request to the set of `counters` as in flight; the box is kept by the exchange
  /// so finishing it takes no lookup.
  func started(_ counters: SetCounters) -> SetCounters {
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

  /// The counters of `key` on this loop, made on first use and kept for the loop's life.
  func counters(_ key: CounterKey) -> SetCounters {
    if let existing = sets[key] { return existing }
    let created = SetCounters(
      SetTraffic(app: key.set.app, color: key.set.color, route: key.route),
      balancer: balancer(key.set))
    sets[key] = created
    return created
  }

  /// This loop's share of every set's traffic.
  var traffic: [SetTraffic] { sets.values.map(\.traffic) }

  // MARK: pooling

  /// An idle connection to `upstream`, newest first; stale ones are closed on the way.
  func take(_ upstream: Upstream) -> UpstreamHandler? {
    // The list is a reference: popped in place, no copy of its storage, no dictionary write.
    // An emptied list stays; it goes when the upstream's last connection closes.
    guard let list = idle[PoolKey(upstream)] else { return nil }
    let now = self.now
    while let connection = list.connections.popLast() {
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
    guard connection.isOpen else { return }
    // A connection keeps its list once it found it: no look-up after its first time here.
    let list: IdleList
    if let known = connection.idleList {
      list = known
    } else {
      let key = PoolKey(connection.upstream)
      if let existing = idle[key] {
        list = existing
      } else {
        list = IdleList()
        idle[key] = list
      }
      connection.idleList = list
      connection.pool = self
    }
    guard list.connections.count < config.maxIdlePerUpstream else {
      connection.close()
      return
    }
    list.connections.append(connection)
    connection.delegate = nil
    connection.setAutoRead(true)
    connection.idleSince = now
    connection.pooled = true
  }

  func forget(_ connection: UpstreamHandler) {
    connection.idleList?.connections.removeAll { $0 === connection }
  }

  func hasIdle(_ upstream: Upstream) -> Bool {
    !(idle[PoolKey(upstream)]?.connections.isEmpty ?? true)
  }

  /// Opens a connection to `upstream` on this loop.
  func connect(_ upstream: Upstream) -> EventLoopFuture<UpstreamHandler> {
    if let epoll = eventLoop as? EpollLoop {
      return EpollConnector.connect(upstream, on: epoll, timeout: config.connectTimeout)
        .assumeIsolated()
        .map { handler in
          self.opened(PoolKey(upstream)) { handler.whenClosed = $0 }
          return handler
        }
        .nonisolated()
    }
    return connector.connect(upstream, on: eventLoop, timeout: config.connectTimeout)
      .assumeIsolated()
      .flatMapThrowing { channel in
        let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
        self.opened(PoolKey(upstream)) { closed in
          channel.closeFuture.assumeIsolated().whenComplete { _ in closed() }
        }
        return handler
      }
      .nonisolated()
  }

  /// Counts a connection to `key` as open until it closes (`whenClosed` registers the call).
  private func opened(_ key: PoolKey, whenClosed: (@escaping () -> Void) -> Void) {
    open[key, default: 0] += 1
    if open[key] == 1 { connected.withLockedValue { _ = $0.insert(key) } }
    whenClosed {
      let left = (self.open[key] ?? 1) - 1
      self.open[key] = left > 0 ? left : nil
      if left <= 0 {
        self.connected.withLockedValue { _ = $0.remove(key) }
        self.idle[key] = nil
      }
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

/// One set's counters on one loop, by reference so an exchange can hold them, with the set's
/// balancer on that loop.
final class SetCounters {
  var traffic: SetTraffic
  let balancer: BalancerBox

  init(_ traffic: SetTraffic, balancer: BalancerBox = BalancerBox()) {
    self.traffic = traffic
    self.balancer = balancer
  }
}

/// The idle connections to one upstream address on one loop, by reference: a connection that
/// found its list once puts itself back with no look-up. Goes from the loop's pool when the
/// address's last connection closes (no open connection holds it then).
final class IdleList {
  var connections: [UpstreamHandler] = []
}

/// One app color's balancer on one loop, by reference so its counters can hold it.
final class BalancerBox {
  var balancer = Balancer()
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
