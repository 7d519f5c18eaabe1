import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable

/// Carrying out the connection's actions: writes both ways, the router's own answers, reads
/// paused and resumed, connections pooled or closed, and the counts.
extension ProxyHandler {
  func perform(_ action: consuming ProxyAction) {
    switch consume action {
    case .wait:
      break
    case .pauseClient:
      pauseReading()
    case .route(let head):
      route(head)
    case .dispatch(let plan):
      dispatch(plan)
    case .send(let link, let head, let body):
      link.delegate = self
      link.uses += 1
      // A pooled connection may have been paused by the last client it served.
      link.setAutoRead(client?.isWritable ?? true)
      link.write(head)
      for part in body { link.write(part) }
      link.flush()
      if link.isWritable { resumeReading() }
    case .toUpstream(let bytes, let link, let flush):
      if bytes.readableBytes > 0 { link.write(bytes) }
      if flush { link.flush() }
      if !link.isWritable { pauseReading() }
    case .respond(let start):
      loop.succeeded(start.link.upstream, in: start.counters)
      if case .stream(let stream) = client {
        // HTTP/2: the parsed head goes straight to HEADERS, not through HTTP/1.1 bytes.
        var extra = loop.limits.stampResponses ? start.link.stampFields(for: start.set) : []
        if let hsts { extra.append(("strict-transport-security", hsts)) }
        emitOutbox()
        stream.respond(start.head, framing: start.framing, extra: extra)
        clientUnflushed = true
        return
      }
      var out = ByteBufferAllocator().buffer(capacity: start.head.bytes.readableBytes + 160)
      HeadWriter.response(
        start.head, stamps: loop.limits.stampResponses ? start.link.stamps(for: start.set) : nil,
        extra: hsts.map { ByteBuffer(string: "strict-transport-security: \($0)\r\n") },
        persistence: start.persistence, dechunk: start.dechunk, into: &out)
      emitOutbox()
      outbox = out
    case .toClient(let bytes, let link):
      toClient(bytes, link)
    case .toClientParts(let parts, let link):
      for part in parts { toClient(part, link) }
    case .openTunnel(let tunnel):
      openTunnel(tunnel)
    case .finished(let finish):
      loop.finished(finish.ending.counters, finish.ending.status, since: finish.ending.start)
      if finish.pool {
        loop.put(finish.link)
      } else {
        close(finish.link)
      }
      if finish.closeClient {
        write(ByteBuffer(), thenClose: true)
      } else {
        flushClient()
        resumeReading()
      }
    case .answer(let answer):
      if let link = answer.closeLink { close(link) }
      if let failed = answer.failed { loop.failed(failed) }
      if let ending = answer.ending {
        loop.finished(ending.counters, ending.status, since: ending.start)
        if ending.status == .proxyError {
          loop.problem("answered \(answer.status.code): \(answer.message)")
        }
      }
      write(
        HeadWriter.answer(
          status: Int(answer.status.code), reason: answer.status.reasonPhrase,
          message: answer.message, close: answer.close, includeBody: answer.includeBody,
          location: answer.location, exact: answer.exact),
        thenClose: answer.close)
      if !answer.close { resumeReading() }
    case .cut(let cut):
      if let link = cut.link { close(link) }
      if let failed = cut.failed { loop.failed(failed) }
      if let ending = cut.ending {
        loop.finished(ending.counters, ending.status, since: ending.start)
      }
      if let why = cut.why { loop.problem(why) }
      outbox = nil
      client?.close()
    case .pool(let link):
      loop.put(link)
    case .closeUpstream(let link):
      close(link)
    }
  }

  /// The most an answer's head and body parts are gathered into before they are written.
  static let outboxLimit = 16 * 1024

  private func toClient(_ bytes: ByteBuffer, _ link: UpstreamHandler) {
    guard let client else { return }
    if var box = outbox, box.readableBytes + bytes.readableBytes <= Self.outboxLimit {
      outbox = nil
      box.writeImmutableBuffer(bytes)
      outbox = box
      return
    }
    emitOutbox()
    client.write(bytes)
    clientUnflushed = true
    if !client.isWritable { link.setAutoRead(false) }
  }

  /// Writes what the outbox gathered; everything else written to the client goes after it.
  func emitOutbox() {
    guard let box = outbox else { return }
    outbox = nil
    guard let client else { return }
    client.write(box)
    clientUnflushed = true
    if !client.isWritable { machine.link?.setAutoRead(false) }
  }

  /// Sends what was written to the client, if anything was.
  func flushClient() {
    emitOutbox()
    guard clientUnflushed, let client else { return }
    clientUnflushed = false
    client.flush()
  }

  /// The 101 and what came after it go to the client, the client's early bytes to the slot;
  /// from here on bytes pass both ways with the same back-pressure until either side closes
  /// or both stay silent for the idle timeout.
  private func openTunnel(_ tunnel: OpenTunnel) {
    guard let client else { return }
    loop.succeeded(tunnel.link.upstream, in: tunnel.counters)
    loop.switchedProtocols(tunnel.counters, since: tunnel.start)
    emitOutbox()
    var out = ByteBuffer()
    out.reserveCapacity(tunnel.head.bytes.readableBytes + 160)
    HeadWriter.response(
      tunnel.head,
      stamps: loop.limits.stampResponses ? tunnel.link.stamps(for: tunnel.set) : nil,
      persistence: .upgraded, dechunk: false, into: &out)
    client.write(out)
    if tunnel.fromUpstream.readableBytes > 0 { client.write(tunnel.fromUpstream) }
    clientUnflushed = false
    client.flush()
    if tunnel.fromClient.readableBytes > 0 {
      tunnel.link.write(tunnel.fromClient)
      tunnel.link.flush()
    }
    resumeReading()
  }

  func close(_ link: UpstreamHandler) {
    link.delegate = nil
    link.close()
  }

  func write(_ bytes: ByteBuffer, thenClose: Bool) {
    emitOutbox()
    guard let client else { return }
    clientUnflushed = false
    if thenClose {
      client.writeThenClose(bytes)
    } else {
      client.write(bytes)
      client.flush()
    }
  }

  func pauseReading() {
    guard !readPaused, let client else { return }
    readPaused = true
    client.setReading(false)
  }

  func resumeReading() {
    guard readPaused, let client else { return }
    readPaused = false
    client.setReading(true)
  }

  /// The client can take more now.
  var clientWritable: Bool { client?.isWritable ?? false }
}
