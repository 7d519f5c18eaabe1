import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable

/// What `ProxyHandler` does after an event of its `ProxyConnection`. The connection's state has
/// already moved when an action is handed out; carrying it out is I/O and counting only.
enum ProxyAction {
  /// Nothing (more) until the next event.
  case wait
  /// Stop reading the client until told otherwise: too much of it is held.
  case pauseClient
  /// A request head was read: resolve its route, then `begin` or `refuse` it.
  indirect case route(MessageHead)
  /// Choose a slot for the current request and reach it.
  indirect case dispatch(DispatchPlan)
  /// Write the request (its head, then the body kept so far) to the connection just attached.
  case send(UpstreamHandler, head: ByteBuffer, body: [ByteBuffer])
  /// Bytes for the slot: request body parts, or client bytes in a tunnel.
  case toUpstream(ByteBuffer, UpstreamHandler, flush: Bool)
  /// The response head goes to the client.
  indirect case respond(ResponseStart)
  /// Bytes for the client: response body parts, or slot bytes in a tunnel.
  case toClient(ByteBuffer, from: UpstreamHandler)
  /// A dechunked body's data, part by part.
  case toClientParts([ByteBuffer], from: UpstreamHandler)
  /// The slot switched protocols: from here on the connections are spliced.
  indirect case openTunnel(OpenTunnel)
  /// The answer is complete (or the tunnel closed).
  case finished(Finish)
  /// The router answers the request itself.
  indirect case answer(Answer)
  /// The exchange cannot go on: close what is open, no answer.
  indirect case cut(Cut)
  /// A connection opened for a request that no longer needs it: keep it for the next.
  case pool(UpstreamHandler)
  /// A connection that spoke out of turn: close it.
  case closeUpstream(UpstreamHandler)
}

/// How an exchange is counted when it ends.
struct Ending {
  let counters: SetCounters
  let start: NIODeadline
  /// nil: taken out of flight without a status class (the client left, a tunnel closed).
  let status: StatusClass?
}

/// Where to look for a slot.
struct DispatchPlan {
  let exchange: Int
  let set: RouteSet
  let app: String
  /// The request's counters, which hold the set's balancer on this loop.
  let counters: SetCounters
  let excluding: Set<Upstream>
  /// Hosts to keep away from while a slot elsewhere is left (a try failed there).
  var avoiding: Set<String> = []
  /// The connection of an earlier try, to close first (its slot was withdrawn).
  var closing: UpstreamHandler? = nil
  /// A pooled connection may carry the request: it is idempotent, and this is not a retry.
  let reuse: Bool
  /// Answer `Expect: 100-continue` first.
  let sendContinue: Bool
  /// The slot the last attempt failed on, for the balancer.
  let failed: Upstream?
}

/// A response head going out.
struct ResponseStart {
  let head: MessageHead
  let link: UpstreamHandler
  let set: RouteSet
  let counters: SetCounters
  let persistence: HeadWriter.Persistence
  let dechunk: Bool
  /// How the body that follows is delimited on the slot's connection.
  let framing: BodyFraming
}

/// A slot's 101 and what follows it.
struct OpenTunnel {
  let head: MessageHead
  let link: UpstreamHandler
  let set: RouteSet
  /// Slot bytes after its 101: the new protocol already.
  let fromUpstream: ByteBuffer
  /// Client bytes after its request head: the new protocol already.
  let fromClient: ByteBuffer
  let counters: SetCounters
  let start: NIODeadline
}

/// The end of an answer.
struct Finish {
  let link: UpstreamHandler
  /// The link can carry another request.
  let pool: Bool
  let closeClient: Bool
  let ending: Ending
}

/// An answer from the router itself.
struct Answer {
  var status: HTTPResponseStatus
  var message: String
  var close: Bool
  var includeBody: Bool
  /// Where a redirect sends the client.
  var location: String? = nil
  /// The body is the message as it is, not the router's error (an ACME key authorization).
  var exact = false
  /// The exchange it ends, if one was under way.
  var ending: Ending? = nil
  /// A slot to report to the balancer as failed.
  var failed: Upstream? = nil
  /// A connection to close first.
  var closeLink: UpstreamHandler? = nil
}

/// What to close when an exchange cannot go on; the client's connection always closes.
struct Cut {
  var link: UpstreamHandler? = nil
  var failed: Upstream? = nil
  var ending: Ending? = nil
  /// Why a request under way was cut, for the log; nil when nothing was lost (an idle
  /// connection closed, the client left).
  var why: String? = nil
}

extension ProxyAction: CustomStringConvertible {
  /// A short form for tests and logs: the action and what decides it.
  var description: String {
    switch self {
    case .wait: "wait"
    case .pauseClient: "pauseClient"
    case .route: "route"
    case .dispatch(let plan):
      "dispatch(reuse: \(plan.reuse), continue: \(plan.sendContinue), failed: \(plan.failed.map { "\($0.slot)" } ?? "-"))"
    case .send(_, _, let body): "send(body parts: \(body.count))"
    case .toUpstream(let bytes, _, let flush): "toUpstream(\(bytes.readableBytes), flush: \(flush))"
    case .respond(let start): "respond(\(start.head.status))"
    case .toClient(let bytes, _): "toClient(\(bytes.readableBytes))"
    case .toClientParts(let parts, _): "toClientParts(\(parts.count))"
    case .openTunnel: "openTunnel"
    case .finished(let finish):
      "finished(pool: \(finish.pool), close: \(finish.closeClient), \(finish.ending.status.map { "\($0)" } ?? "-"))"
    case .answer(let answer):
      "answer(\(answer.status.code), close: \(answer.close), failed: \(answer.failed.map { "\($0.slot)" } ?? "-"))"
    case .cut(let cut):
      "cut(link: \(cut.link != nil), \(cut.ending.map { $0.status.map { "\($0)" } ?? "-" } ?? "no exchange"))"
    case .pool: "pool"
    case .closeUpstream: "closeUpstream"
    }
  }
}
