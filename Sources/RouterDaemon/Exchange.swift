import HTTPFraming
import NIOCore
import RouteTable

/// One request on its way through the router, from its head to the end of its answer, held in
/// `ProxyConnection.State.proxying`. A class owned by that connection alone and changed in
/// place: as a struct it was copied out of the state and back on every event (some 300 bytes
/// and ten references), which cost the router about a tenth of its throughput.
final class Exchange {
  /// What the request is and where it goes: fixed once it is routed.
  struct Request {
    let app: String
    let set: RouteSet
    /// The request head as the upstream gets it.
    let head: ByteBuffer
    let method: MessageHead.Method
    let clientMinorVersion: Int
    /// The client wants the connection kept after this response.
    let keepAlive: Bool
    /// The request asks to switch protocols (a WebSocket handshake).
    let upgrade: Bool
    let counters: SetCounters
    let start: NIODeadline
  }

  /// The request body as read from the client.
  enum RequestBody {
    case reading(BodyFramer)
    case ended
  }

  /// The connection to a slot that carries the request.
  enum Leg {
    /// A slot is to be chosen; a pooled connection may carry the request only when `reuse`.
    case choosing(reuse: Bool)
    /// A new connection to `upstream` is being opened.
    case connecting(Upstream)
    /// The request went to `link` at `since`; `reused` when the link came from the pool.
    case attached(UpstreamHandler, since: NIODeadline, reused: Bool)
  }

  /// The answer, as far as it went to the client.
  enum Response {
    /// Nothing of it went out yet: it can still be retried elsewhere or answered by the router.
    case awaitingHead
    /// The head went out; the body is being forwarded.
    case body(BodyFramer, ResponsePlan)
  }

  /// What the response head decided about the rest of the exchange.
  struct ResponsePlan {
    var status: Int
    /// The slot's connection can carry another request once this answer ends.
    var upstreamKeepAlive: Bool
    /// The client's connection closes after this answer.
    var closeClient: Bool
    /// A chunked answer to an HTTP/1.0 client: its chunks are sent as plain bytes.
    var dechunk: Bool
  }

  let id: Int
  let request: Request
  var requestBody: RequestBody
  var copy = BodyCopy.replayable([], bytes: 0)
  var leg = Leg.choosing(reuse: true)
  var response = Response.awaitingHead
  /// Bytes from the slot not handled yet: part of a response head, or body bytes.
  var upstreamInbound = ByteBuffer()
  /// A small answer held until whole is let out as it comes: the response timeout passed.
  var holdReleased = false
  /// Slots a new connection was opened to for this request.
  var tried: Set<Upstream> = []
  /// Tries on another slot after a connection could not be opened: the request never left,
  /// so any request may go elsewhere (`Exchange.maxConnectRetries`).
  var connectRetries = 0
  /// Tries on another slot after a new connection failed with the request sent and no byte
  /// of an answer back (one; idempotent requests whose body is kept whole only).
  var retries = 0
  /// New connections after a pooled one turned out closed (two).
  var staleRetries = 0
  /// Hosts (addresses) a try failed on: another host is preferred for the next try, since
  /// slots on one host usually fail together (the host died, or its network is cut).
  var avoiding: Set<String> = []
  /// The set tries choose from: the request's, or the newer one that withdrew its slot.
  lazy var set: RouteSet = request.set
  /// Tries after the scheduler withdrew the slot under the request (one).
  var withdrawals = 0

  /// Slots tried after refused connections before the client gets 502: with two of four
  /// slots dead, three tries always reach a live one.
  static let maxConnectRetries = 2

  init(id: Int, request: Request, requestBody: RequestBody) {
    self.id = id
    self.request = request
    self.requestBody = requestBody
  }

  var requestEnded: Bool {
    if case .ended = requestBody { return true }
    return false
  }

  /// The connection the request went to, if it went.
  var link: UpstreamHandler? {
    if case .attached(let link, _, _) = leg { return link }
    return nil
  }

  func isAttached(to link: UpstreamHandler) -> Bool { self.link === link }

  /// How the exchange is counted when it ends: in a status class, or (nil) only out of flight.
  func ending(_ status: StatusClass?) -> Ending {
    Ending(counters: request.counters, start: request.start, status: status)
  }

  /// The next slot to choose, away from those tried.
  func plan(sendContinue: Bool, failed: Upstream?) -> DispatchPlan {
    var reuse = false
    if case .choosing(let mayReuse) = leg { reuse = mayReuse && request.method.isIdempotent }
    return DispatchPlan(
      exchange: id, set: set, app: request.app, counters: request.counters, excluding: tried,
      avoiding: avoiding,
      reuse: reuse, sendContinue: sendContinue, failed: failed)
  }
}

/// The request body bytes kept for an upstream. Small bodies are kept whole so the request can
/// be sent again to another slot; past the replay limit only the parts no upstream has yet are
/// kept, and the request can no longer be retried.
enum BodyCopy {
  /// Every body byte so far.
  case replayable([ByteBuffer], bytes: Int)
  /// Too large to replay: the parts read while no upstream was attached.
  case pending([ByteBuffer], bytes: Int)

  var isReplayable: Bool {
    if case .replayable = self { return true }
    return false
  }

  /// What an upstream just attached must get after the head: everything kept. Pending parts
  /// are handed over and forgotten.
  mutating func forAttach() -> [ByteBuffer] {
    switch self {
    case .replayable(let parts, _):
      return parts
    case .pending(let parts, _):
      self = .pending([], bytes: 0)
      return parts
    }
  }

  /// A part that went to the attached upstream: kept only while the body may be replayed.
  mutating func forwarded(_ part: ByteBuffer, limit: Int) {
    guard case .replayable(var parts, let bytes) = self else { return }
    // Past the limit the copy is dropped; below it, appended in place (no copy of the list).
    self = .pending([], bytes: 0)
    let total = bytes + part.readableBytes
    if total <= limit {
      parts.append(part)
      self = .replayable(parts, bytes: total)
    }
  }

  /// A part read while no upstream is attached: kept until one is. True when more than
  /// `limit` bytes wait, and the client should not be read until they are sent.
  mutating func held(_ part: ByteBuffer, limit: Int) -> Bool {
    switch self {
    case .replayable(var parts, let bytes):
      self = .pending([], bytes: 0)
      parts.append(part)
      let total = bytes + part.readableBytes
      self = total <= limit ? .replayable(parts, bytes: total) : .pending(parts, bytes: total)
      return total > limit
    case .pending(var parts, let bytes):
      self = .pending([], bytes: 0)
      parts.append(part)
      self = .pending(parts, bytes: bytes + part.readableBytes)
      return bytes + part.readableBytes > limit
    }
  }
}

/// Both connections spliced after a slot's 101: bytes pass both ways untouched.
struct Tunnel {
  let link: UpstreamHandler
  let counters: SetCounters
  let start: NIODeadline

  var ending: Ending { Ending(counters: counters, start: start, status: nil) }
}
