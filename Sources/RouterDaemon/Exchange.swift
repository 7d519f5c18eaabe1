import HTTPFraming
import NIOCore
import NIOHTTP1
import RouteTable
import SchedModel

/// One request on its way through the router (a class: handlers pass it around per part).
final class Exchange {
  let id: Int
  let key: SetKey
  let set: RouteSet
  /// The request head as the upstream gets it.
  let head: ByteBuffer
  let method: MessageHead.Method
  let clientMinorVersion: Int
  /// The client wants the connection kept after this response.
  let keepAlive: Bool
  /// The request asks to switch protocols (a WebSocket handshake).
  let upgrade: Bool
  /// The slot switched protocols: both connections are spliced until one closes.
  var tunnel = false
  let start: NIODeadline
  var counters: SetCounters?
  var tried: Set<Upstream> = []
  /// Body parts that arrived before an upstream was attached.
  var pendingBody: [ByteBuffer] = []
  var pendingBytes = 0
  /// The whole body so far, while it is small enough to replay on another connection.
  var replay: [ByteBuffer] = []
  var replayBytes = 0
  var replayable = true
  var requestEnded = false
  var current: UpstreamHandler?
  var reused = false
  var retries = 0
  var staleRetries = 0
  /// Part of a response head read so far.
  var responseInbound = ByteBuffer()
  /// The response body being forwarded, once the head went out.
  var responseBody: BodyFramer?
  var responseStarted = false
  var status = 0
  var upstreamKeepAlive = false
  var closeClient = false
  var dechunk = false
  /// When the request went to its current upstream, for the response timeout.
  var attachedAt: NIODeadline = .now()

  init(
    id: Int, key: SetKey, set: RouteSet, head: ByteBuffer, method: MessageHead.Method,
    clientMinorVersion: Int, keepAlive: Bool, upgrade: Bool, start: NIODeadline
  ) {
    self.id = id
    self.key = key
    self.set = set
    self.head = head
    self.method = method
    self.clientMinorVersion = clientMinorVersion
    self.keepAlive = keepAlive
    self.upgrade = upgrade
    self.start = start
  }
}
