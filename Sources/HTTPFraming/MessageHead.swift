import NIOCore

/// How a message's body is delimited on the wire.
public enum BodyFraming: Equatable, Sendable {
  case none
  case length(Int)
  case chunked
  /// A response without a length: its body ends when the upstream closes.
  case untilClose
}

/// A request or response head as it arrived, parsed in one pass: the raw bytes (kept, so
/// forwarding copies byte ranges instead of re-encoding) and what the router needs from them.
public struct MessageHead {
  /// One header line's name and value, as offsets into `bytes`.
  public struct Field {
    public var name: Range<Int>
    public var value: Range<Int>
    /// The header describes one hop (or is one the router replaces) and is not forwarded.
    public var dropped: Bool
    /// `content-length` or `transfer-encoding`: left out when a chunked body is de-chunked.
    public var framing = false
    /// Where the field's line ends, after its line end: the line is `name.lowerBound..<lineEnd`.
    public var lineEnd = 0
  }

  /// The head, from the start line through the empty line that ends it.
  public var bytes: ByteBuffer
  public var fields: [Field] = []
  /// Every field line, each with its line end: copied whole when nothing is dropped.
  public var fieldBlock: Range<Int> = 0..<0
  /// 0 for HTTP/1.0, 1 for HTTP/1.1.
  public var minorVersion = 1

  // Requests.
  public var method = Method.other
  /// The start line up to the version: `GET /path `.
  public var requestLinePrefix: Range<Int> = 0..<0

  /// The request target (`/path?query`), as the start line gives it.
  public var target: String {
    let line = String(decoding: bytes.readableBytesView[requestLinePrefix], as: UTF8.self)
    let parts = line.split(separator: " ", omittingEmptySubsequences: true)
    return parts.count >= 2 ? String(parts[1]) : "/"
  }
  /// Whether the request target starts with `prefix`, read off the bytes (no allocation; on
  /// every request's path, so concrete types only).
  public func targetStarts(with prefix: [UInt8]) -> Bool {
    let range = requestLinePrefix
    return bytes.withUnsafeReadableBytes { raw in
      var index = range.lowerBound
      while index < range.upperBound, raw[index] != UInt8(ascii: " ") { index += 1 }
      index += 1
      guard range.upperBound - index >= prefix.count else { return false }
      for offset in 0..<prefix.count where raw[index + offset] != prefix[offset] { return false }
      return true
    }
  }
  public var host: String?
  public var expectsContinue = false
  public var previewValue: String?
  /// Earlier proxies' `x-forwarded-for` values, joined.
  public var forwardedFor: String?
  public var hasForwardedProto = false

  // Responses.
  public var status = 0
  /// The start line after the version: ` 200 OK`.
  public var statusLineSuffix: Range<Int> = 0..<0

  /// The request's framing; a response's depends on its request (`HeadParser.responseFraming`).
  public var framing = BodyFraming.none
  public var contentLength: Int?
  /// A transfer coding was given, and whether its last coding is chunked.
  public var hasTransferEncoding = false
  public var chunked = false
  /// The sender asked to keep the connection (HTTP/1.1 without `close`, or an explicit
  /// `keep-alive` on HTTP/1.0).
  public var keepAlive = true
  /// Any field is dropped: forwarding must filter instead of copying the block whole.
  public var dropsAny = false
  /// The `upgrade` field's value when the connection field names it too, on HTTP/1.1: a request
  /// asks to switch protocols (a WebSocket handshake), a 101 answer agrees. Both fields are
  /// hop-by-hop and dropped; the writer puts them back for the upstream and for the client.
  public var upgrade: Range<Int>?

  public enum Method: Equatable, Sendable {
    case get, head, post, put, delete, options, trace, patch, connect, other

    /// A replay of the request on another connection cannot do harm.
    public var isIdempotent: Bool {
      switch self {
      case .get, .head, .options, .put, .delete, .trace: true
      default: false
      }
    }
  }

  /// The value of a field as a string.
  public func string(_ range: Range<Int>) -> String {
    bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
  }
}

/// Why a head could not be parsed; the router answers 400 (requests) or 502 (responses).
public struct HeadError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
