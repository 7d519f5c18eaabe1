import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable
import SchedModel

/// Choosing a slot for the request, reaching it (pooled or new, one retry), and the timeouts.
extension ProxyHandler {
  func dispatch(fresh: Bool = false) {
    guard let exchange else { return }
    guard let upstream = loop.pick(exchange.set, app: exchange.key.app, excluding: exchange.tried)
    else {
      fail(
        .badGateway,
        "no slot of the \(exchange.set.color.rawValue) set of \(exchange.key.app) could be reached")
      return
    }
    // Only idempotent requests ride a pooled connection: one the upstream closed as it was
    // taken can then be replayed safely.
    if !fresh, exchange.method.isIdempotent, let pooled = loop.take(upstream) {
      attach(pooled, reused: true)
      return
    }
    self.exchange!.tried.insert(upstream)
    let id = exchange.id
    loop.connect(upstream).assumeIsolated().whenComplete { result in
      switch result {
      case .success(let connection):
        guard self.exchange?.id == id, self.context?.channel.isActive == true else {
          self.loop.put(connection)
          return
        }
        self.attach(connection, reused: false)
      case .failure:
        guard self.exchange?.id == id else { return }
        self.loop.failed(upstream)
        if self.exchange!.retries == 0 {
          self.exchange!.retries += 1
          self.dispatch(fresh: true)
        } else {
          self.fail(
            .badGateway,
            "cannot connect to slot \(upstream.slot) at \(upstream.address):\(upstream.port)")
        }
      }
    }
  }

  func attach(_ connection: UpstreamHandler, reused: Bool) {
    guard exchange != nil else { return }
    connection.delegate = self
    connection.uses += 1
    // Set before writing: writability events during the writes below must find the exchange.
    exchange!.current = connection
    exchange!.reused = reused
    let body = exchange!.replayable ? exchange!.replay : exchange!.pendingBody
    exchange!.pendingBody = []
    exchange!.pendingBytes = 0
    exchange!.attachedAt = .now()
    // A pooled connection may have been paused by the last client it served.
    connection.setAutoRead(context?.channel.isWritable ?? true)
    connection.write(exchange!.head)
    for buffer in body { connection.write(buffer) }
    connection.flush()
    if let context, readPaused, connection.isWritable { resumeReading(context) }
  }

  /// Runs every second or so on the connection's loop: one timer per connection, not per
  /// request. Closes an idle client connection; answers 504 for a slot that has not started
  /// its answer in time.
  func checkTimeouts() {
    if exchange?.tunnel ?? true, NIODeadline.now() - lastActivity >= config.idleTimeout {
      abandonExchange()
      context?.close(promise: nil)
      return
    }
    guard let exchange, !exchange.responseStarted, let upstream = exchange.current,
      NIODeadline.now() - exchange.attachedAt >= config.responseTimeout
    else { return }
    upstream.delegate = nil
    upstream.close()
    self.exchange!.current = nil
    loop.failed(upstream.upstream)
    fail(
      .gatewayTimeout,
      "slot \(upstream.upstream.slot) did not answer within \(config.responseTimeout.nanoseconds / 1_000_000) ms"
    )
  }
}
