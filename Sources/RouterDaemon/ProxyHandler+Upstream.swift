import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable
import SchedModel

/// The slot's side: its response head and body to the client, the tunnel after a 101, the end of a response, and an upstream that breaks or closes.
extension ProxyHandler {
  func upstreamRead(_ buffer: ByteBuffer, from connection: UpstreamHandler) {
    guard exchange != nil, exchange!.current === connection else {
      connection.delegate = nil
      connection.close()
      return
    }
    if exchange!.tunnel {
      lastActivity = .now()
      context?.write(wrapOutboundOut(buffer), promise: nil)
      if context?.channel.isWritable == false { connection.setAutoRead(false) }
      return
    }
    var buffer = buffer
    if exchange!.responseInbound.readableBytes > 0 {
      exchange!.responseInbound.writeBuffer(&buffer)
      buffer = exchange!.responseInbound
      exchange!.responseInbound = ByteBuffer()
    }
    while let exchange, exchange.current === connection, buffer.readableBytes > 0 {
      if var framer = exchange.responseBody {
        guard forwardResponseBody(&buffer, &framer, exchange, connection) else { return }
      } else if !readResponseHead(&buffer, exchange, connection) {
        return
      }
    }
  }

  /// Parses the response head at the front of `buffer` and writes the client's; false when
  /// more bytes are needed or the exchange ended.
  func readResponseHead(
    _ buffer: inout ByteBuffer, _ exchange: Exchange, _ connection: UpstreamHandler
  ) -> Bool {
    guard let length = HeadParser.headLength(in: buffer) else {
      if buffer.readableBytes > Self.maxResponseHeadBytes {
        upstreamBroke(
          connection,
          "slot \(connection.upstream.slot) sent a response head over \(Self.maxResponseHeadBytes) bytes"
        )
      } else {
        exchange.responseInbound = buffer
      }
      return false
    }
    let head: MessageHead
    do {
      head = try HeadParser.response(
        buffer.readSlice(length: length)!, stamping: config.stampResponses)
    } catch {
      upstreamBroke(
        connection,
        "slot \(connection.upstream.slot) sent a response that cannot be parsed: \(error)")
      return false
    }
    // An interim answer (100, 103) is not the response.
    if head.status < 200 {
      if head.status == 101 {
        guard exchange.upgrade, head.upgrade != nil else {
          upstreamBroke(
            connection,
            "slot \(connection.upstream.slot) switched protocols though the request did not ask to"
          )
          return false
        }
        openTunnel(connection, head, &buffer, exchange)
        return false
      }
      return true
    }
    let framing = HeadParser.responseFraming(head, method: exchange.method)
    let dechunk = exchange.clientMinorVersion == 0 && framing == .chunked
    let close =
      !exchange.keepAlive || !exchange.requestEnded || framing == .untilClose || dechunk
    exchange.responseStarted = true
    exchange.status = head.status
    exchange.upstreamKeepAlive = head.keepAlive && framing != .untilClose
    exchange.closeClient = close
    exchange.dechunk = dechunk
    exchange.replay = []
    loop.succeeded(connection.upstream)
    var out = ByteBuffer()
    out.reserveCapacity(head.bytes.readableBytes + 160)
    HeadWriter.response(
      head, stamps: config.stampResponses ? connection.stamps(for: exchange.set) : nil,
      persistence: close ? .close : exchange.clientMinorVersion == 0 ? .keepAlive : .implicit,
      dechunk: dechunk, into: &out)
    context?.write(wrapOutboundOut(out), promise: nil)
    let framer = BodyFramer(framing)
    if framer.isDone {
      finishResponse(connection, leftover: buffer.readableBytes)
      return false
    }
    exchange.responseBody = framer
    return true
  }

  /// Forwards the body bytes at the front of `buffer`; false when the exchange ended or broke.
  func forwardResponseBody(
    _ buffer: inout ByteBuffer, _ framer: inout BodyFramer, _ exchange: Exchange,
    _ connection: UpstreamHandler
  ) -> Bool {
    guard let context else { return false }
    var data: [Range<Int>] = []
    let dechunk = exchange.dechunk
    let consumed: Int
    do {
      consumed = try buffer.withReadableBytes { bytes throws(HeadError) in
        dechunk ? try framer.consume(bytes) { data.append($0) } : try framer.consume(bytes)
      }
    } catch {
      upstreamBroke(
        connection, "slot \(connection.upstream.slot) broke the body framing: \(error)")
      return false
    }
    if dechunk {
      for range in data {
        context.write(
          wrapOutboundOut(
            buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)!),
          promise: nil)
      }
      buffer.moveReaderIndex(forwardBy: consumed)
    } else {
      context.write(wrapOutboundOut(buffer.readSlice(length: consumed)!), promise: nil)
    }
    exchange.responseBody = framer
    if framer.isDone {
      finishResponse(connection, leftover: buffer.readableBytes)
      return false
    }
    if !context.channel.isWritable { connection.setAutoRead(false) }
    return true
  }

  static let maxResponseHeadBytes = 64 * 1024

  /// The slot agreed to switch protocols: its 101 goes to the client, and from here on the two
  /// connections are spliced, bytes passing both ways untouched (with the same back-pressure)
  /// until either side closes or both stay silent for the idle timeout. The request counts as
  /// answered now and stays in flight until the end, so a drain waits for it.
  func openTunnel(
    _ connection: UpstreamHandler, _ head: MessageHead, _ buffer: inout ByteBuffer,
    _ exchange: Exchange
  ) {
    guard let context else { return }
    exchange.responseStarted = true
    exchange.tunnel = true
    exchange.status = 101
    exchange.replay = []
    loop.succeeded(connection.upstream)
    loop.switchedProtocols(exchange.counters, since: exchange.start)
    var out = ByteBuffer()
    out.reserveCapacity(head.bytes.readableBytes + 160)
    HeadWriter.response(
      head, stamps: config.stampResponses ? connection.stamps(for: exchange.set) : nil,
      persistence: .upgraded, dechunk: false, into: &out)
    context.write(wrapOutboundOut(out), promise: nil)
    if buffer.readableBytes > 0 {
      context.write(wrapOutboundOut(buffer.readSlice(length: buffer.readableBytes)!), promise: nil)
    }
    context.flush()
    // What the client sent after its request head already speaks the new protocol.
    if inbound.readableBytes > 0 {
      connection.write(inbound)
      connection.flush()
      inbound = ByteBuffer()
    }
    lastActivity = .now()
    if readPaused { resumeReading(context) }
  }

  /// The response is complete: count it, pool or close the upstream connection, flush the
  /// client, and go on with a pipelined request.
  func finishResponse(_ connection: UpstreamHandler, leftover: Int) {
    guard let context, let exchange else { return }
    self.exchange = nil
    loop.finished(exchange.counters, StatusClass(status: exchange.status), since: exchange.start)
    // Bytes after the response mean the upstream is out of step: never reuse it.
    if exchange.upstreamKeepAlive && exchange.requestEnded && leftover == 0 {
      loop.put(connection)
    } else {
      connection.delegate = nil
      connection.close()
    }
    if exchange.closeClient {
      closing = true
      write(ByteBuffer(), thenClose: true)
      return
    }
    context.flush()
    lastActivity = .now()
    if readPaused { resumeReading(context) }
    process()
  }

  /// The upstream said something that cannot be forwarded: it is closed; the client gets 502
  /// if nothing of the answer went out yet, or sees its connection closed.
  func upstreamBroke(_ connection: UpstreamHandler, _ message: String) {
    guard let exchange else { return }
    connection.delegate = nil
    connection.close()
    exchange.current = nil
    loop.failed(connection.upstream)
    if exchange.responseStarted {
      loop.finished(exchange.counters, .proxyError, since: exchange.start)
      self.exchange = nil
      closing = true
      context?.close(promise: nil)
    } else {
      fail(.badGateway, message)
    }
  }

  func upstreamReadComplete(_ connection: UpstreamHandler) {
    context?.flush()
  }

  func upstreamWritabilityChanged(_ connection: UpstreamHandler) {
    guard let context, exchange?.current === connection else { return }
    if connection.isWritable {
      resumeReading(context)
    } else {
      pauseReading(context)
    }
  }

  func upstreamClosed(_ connection: UpstreamHandler) {
    guard let exchange, exchange.current === connection else { return }
    if exchange.tunnel {
      exchange.current = nil
      loop.finished(exchange.counters, nil, since: exchange.start)
      self.exchange = nil
      closing = true
      write(ByteBuffer(), thenClose: true)
      return
    }
    if exchange.responseStarted, exchange.responseBody?.endsAtClose == true {
      // A body delimited by the close: this is its end.
      exchange.closeClient = true
      exchange.upstreamKeepAlive = false
      finishResponse(connection, leftover: 0)
      return
    }
    exchange.current = nil
    let upstream = connection.upstream
    if exchange.responseStarted {
      // Part of the answer went out: the client must see the break, not a spliced response.
      loop.finished(exchange.counters, .proxyError, since: exchange.start)
      self.exchange = nil
      closing = true
      context?.close(promise: nil)
      return
    }
    let replayable = exchange.replayable && exchange.method.isIdempotent
    if exchange.reused && replayable && exchange.staleRetries < 2 {
      // A pooled connection the upstream had closed: not the slot's fault, try a new one.
      exchange.staleRetries += 1
      dispatch(fresh: true)
    } else if !exchange.reused && replayable && exchange.retries == 0 {
      loop.failed(upstream)
      exchange.retries += 1
      dispatch(fresh: true)
    } else {
      if !exchange.reused { loop.failed(upstream) }
      fail(.badGateway, "slot \(upstream.slot) closed the connection before answering")
    }
  }
}
