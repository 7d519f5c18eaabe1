import NIOCore
import NIOHPACK

/// One HTTP/2 stream's request as HTTP/1.1 bytes, for the proxy that speaks HTTP/1.1 to slots:
/// the pseudo-header fields become the request line and `host`, split `cookie` fields are
/// joined again, and a body of unknown length is sent chunked. Pure.
///
/// It is also the request's only check: the HTTP/2 codec's own validation is off (it cost a
/// fifth of a stream's instructions, for the router's own answers as much as for requests), so
/// everything RFC 9113 calls malformed and everything that could smuggle a second request
/// into the HTTP/1.1 side is refused here: names that are not lower-case tokens, values with
/// NUL, CR or LF or edge whitespace, unknown, repeated or late pseudo-header fields,
/// connection-specific fields, a `te` other than `trailers`, a request line that would not
/// parse as one, and DATA that does not add up to `content-length`.
struct HTTP2RequestTranslator {
  /// The request was HEAD: its answer has no body whatever its head says.
  private(set) var isHead = false
  /// The body is sent chunked (no content-length came with it).
  private(set) var chunked = false
  /// The body's length as the request declared it.
  private(set) var declaredLength: Int?
  /// Body bytes received so far.
  private(set) var received = 0

  enum Refusal: Error, Equatable {
    /// A request RFC 9113 calls malformed, or one the proxy does not carry (CONNECT).
    case malformed(String)
  }

  /// The request head; `endStream`: it has no body. Written in one pass: the pseudo-header
  /// fields come first (anything else is refused), so the request line is written at the
  /// first regular field and every field after it goes straight out.
  mutating func head(_ headers: HPACKHeaders, endStream: Bool) throws(Refusal) -> ByteBuffer {
    var method: String?
    var path: String?
    var authority: String?
    var scheme: String?
    var host = false
    var cookies: [String] = []
    var started = false
    var out = ByteBuffer()
    out.reserveCapacity(256)

    /// The request line (and `host` from `:authority`), once the pseudo-fields are all read.
    func startLine() throws(Refusal) {
      started = true
      guard let method, let path, scheme != nil else {
        throw .malformed("a request needs :method, :scheme and :path")
      }
      guard method != "CONNECT" else { throw .malformed("CONNECT is not carried") }
      guard Self.isToken(method) else { throw .malformed("the method is not a token") }
      guard path.utf8.first == UInt8(ascii: "/") || (method == "OPTIONS" && path == "*"),
        Self.isVisible(path)
      else { throw .malformed(":path must be an origin-form path without spaces") }
      isHead = method == "HEAD"
      out.writeString(method)
      out.writeStaticString(" ")
      out.writeString(path)
      out.writeStaticString(" HTTP/1.1\r\n")
      if let authority { try Self.writeHost(authority, into: &out) }
    }

    for (name, value, _) in headers {
      try Self.checkValue(value, of: name)
      if name.utf8.first == UInt8(ascii: ":") {
        guard !started else { throw .malformed("\(name) comes after a regular field") }
        switch name {
        case ":method": try Self.once(&method, value, name)
        case ":path": try Self.once(&path, value, name)
        case ":authority": try Self.once(&authority, value, name)
        case ":scheme": try Self.once(&scheme, value, name)
        default: throw .malformed("unknown pseudo-header field \(name)")
        }
        continue
      }
      if !started { try startLine() }
      try Self.checkName(name)
      switch name {
      case "host":
        // :authority wins over host (RFC 9113 8.3.1); one host line at most either way.
        guard !host else { throw .malformed("host is repeated") }
        host = true
        if authority == nil { try Self.writeHost(value, into: &out) }
        continue
      case "cookie":
        cookies.append(value)
        continue
      case "content-length":
        guard let length = Self.decimal(value), declaredLength == nil || declaredLength == length
        else { throw .malformed("content-length \(value) is not one decimal length") }
        declaredLength = length
      case "te":
        guard value == "trailers" else { throw .malformed("te may only be \"trailers\"") }
      case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
        throw .malformed("\(name) is connection-specific and not allowed in HTTP/2")
      default: break
      }
      out.writeString(name)
      out.writeStaticString(": ")
      out.writeString(value)
      out.writeStaticString("\r\n")
    }
    if !started { try startLine() }
    if endStream, let declaredLength, declaredLength != 0 {
      throw .malformed("content-length \(declaredLength) but no body")
    }
    chunked = !endStream && declaredLength == nil
    if !cookies.isEmpty { out.writeString("cookie: \(cookies.joined(separator: "; "))\r\n") }
    if chunked { out.writeStaticString("transfer-encoding: chunked\r\n") }
    out.writeStaticString("\r\n")
    if endStream, chunked { out.writeStaticString("0\r\n\r\n") }
    return out
  }

  /// The `host` line, from `:authority` or the host field: a host and port, nothing more.
  private static func writeHost(_ target: String, into out: inout ByteBuffer) throws(Refusal) {
    guard isVisible(target), !target.utf8.contains(UInt8(ascii: "@")) else {
      throw .malformed("the authority is not a host and port")
    }
    out.writeStaticString("host: ")
    out.writeString(target)
    out.writeStaticString("\r\n")
  }

  /// A DATA frame's bytes; `endStream` ends the body.
  mutating func data(_ bytes: ByteBuffer, endStream: Bool) throws(Refusal) -> ByteBuffer {
    received += bytes.readableBytes
    try checkLength(ended: endStream)
    guard chunked else { return bytes }
    var out = ByteBuffer()
    if bytes.readableBytes > 0 {
      out.writeString(String(bytes.readableBytes, radix: 16) + "\r\n")
      out.writeImmutableBuffer(bytes)
      out.writeStaticString("\r\n")
    }
    if endStream { out.writeStaticString("0\r\n\r\n") }
    return out
  }

  /// Trailers end the body (they are dropped: the proxy's slots get none over HTTP/1.1); they
  /// may hold no pseudo-header field.
  func trailers(_ headers: HPACKHeaders) throws(Refusal) -> ByteBuffer {
    for (name, value, _) in headers {
      guard name.utf8.first != UInt8(ascii: ":") else {
        throw .malformed("trailers may not hold \(name)")
      }
      try Self.checkName(name)
      try Self.checkValue(value, of: name)
    }
    try checkLength(ended: true)
    return chunked ? ByteBuffer(string: "0\r\n\r\n") : ByteBuffer()
  }

  private func checkLength(ended: Bool) throws(Refusal) {
    guard let declaredLength else { return }
    guard received <= declaredLength, !ended || received == declaredLength else {
      throw .malformed("the body's \(received) bytes do not match content-length \(declaredLength)")
    }
  }

  private static func once(_ slot: inout String?, _ value: String, _ name: String) throws(Refusal) {
    guard slot == nil else { throw .malformed("\(name) is repeated") }
    slot = value
  }

  /// A field name: a token in lower case (RFC 9113 8.2.1).
  static func checkName(_ name: String) throws(Refusal) {
    guard !name.isEmpty, name.utf8.allSatisfy({ isTokenByte($0, upper: false) }) else {
      throw .malformed("field name \(name.debugDescription) is not a lower-case token")
    }
  }

  /// A byte of a token (RFC 9110 5.6.2); upper-case letters only when `upper`.
  static func isTokenByte(_ byte: UInt8, upper: Bool) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
      UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"),
      UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
      UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "^"),
      UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
      true
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): upper
    default: false
    }
  }

  /// A field value: no NUL, CR or LF, no space or tab at either end (RFC 9113 8.2.1).
  static func checkValue(_ value: String, of name: String) throws(Refusal) {
    let utf8 = value.utf8
    for byte in utf8 where byte == 0 || byte == 10 || byte == 13 {
      throw .malformed("the value of \(name) holds NUL, CR or LF")
    }
    if let first = utf8.first, let last = utf8.last,
      first == 32 || first == 9 || last == 32 || last == 9
    {
      throw .malformed("the value of \(name) starts or ends with white space")
    }
  }

  /// Only visible ASCII and beyond: no space, no control character.
  static func isVisible(_ text: String) -> Bool {
    !text.isEmpty && !text.utf8.contains { $0 <= 32 || $0 == 127 }
  }

  /// A method: a token (upper case allowed).
  static func isToken(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.allSatisfy { isTokenByte($0, upper: true) }
  }

  static func decimal(_ text: String) -> Int? {
    guard !text.isEmpty, text.utf8.count < 19 else { return nil }
    var value = 0
    for byte in text.utf8 {
      guard byte >= 48, byte <= 57 else { return nil }
      value = value * 10 + Int(byte - 48)
    }
    return value
  }
}
