import NIOCore

/// How a message's body is delimited on the wire.
enum BodyFraming: Equatable, Sendable {
  case none
  case length(Int)
  case chunked
  /// A response without a length: its body ends when the upstream closes.
  case untilClose
}

/// A request or response head as it arrived, parsed in one pass: the raw bytes (kept, so
/// forwarding copies byte ranges instead of re-encoding) and what the router needs from them.
struct MessageHead {
  /// One header line's name and value, as offsets into `bytes`.
  struct Field {
    var name: Range<Int>
    var value: Range<Int>
    /// The header describes one hop (or is one the router replaces) and is not forwarded.
    var dropped: Bool
    /// `content-length` or `transfer-encoding`: left out when a chunked body is de-chunked.
    var framing = false
  }

  /// The head, from the start line through the empty line that ends it.
  var bytes: ByteBuffer
  var fields: [Field] = []
  /// Every field line, each with its line end: copied whole when nothing is dropped.
  var fieldBlock: Range<Int> = 0..<0
  /// 0 for HTTP/1.0, 1 for HTTP/1.1.
  var minorVersion = 1

  // Requests.
  var method = Method.other
  /// The start line up to the version: `GET /path `.
  var requestLinePrefix: Range<Int> = 0..<0
  var host: String?
  var expectsContinue = false
  var previewValue: String?
  /// Earlier proxies' `x-forwarded-for` values, joined.
  var forwardedFor: String?
  var hasForwardedProto = false

  // Responses.
  var status = 0
  /// The start line after the version: ` 200 OK`.
  var statusLineSuffix: Range<Int> = 0..<0

  /// The request's framing; a response's depends on its request (`HeadParser.responseFraming`).
  var framing = BodyFraming.none
  var contentLength: Int?
  /// A transfer coding was given, and whether its last coding is chunked.
  var hasTransferEncoding = false
  var chunked = false
  /// The sender asked to keep the connection (HTTP/1.1 without `close`, or an explicit
  /// `keep-alive` on HTTP/1.0).
  var keepAlive = true
  /// Any field is dropped: forwarding must filter instead of copying the block whole.
  var dropsAny = false
  /// The `upgrade` field's value when the connection field names it too, on HTTP/1.1: a request
  /// asks to switch protocols (a WebSocket handshake), a 101 answer agrees. Both fields are
  /// hop-by-hop and dropped; the writer puts them back for the upstream and for the client.
  var upgrade: Range<Int>?

  enum Method: Equatable, Sendable {
    case get, head, post, put, delete, options, trace, patch, connect, other

    /// A replay of the request on another connection cannot do harm.
    var isIdempotent: Bool {
      switch self {
      case .get, .head, .options, .put, .delete, .trace: true
      default: false
      }
    }
  }

  /// The value of a field as a string.
  func string(_ range: Range<Int>) -> String {
    bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
  }
}

/// Why a head could not be parsed; the router answers 400 (requests) or 502 (responses).
struct HeadError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
