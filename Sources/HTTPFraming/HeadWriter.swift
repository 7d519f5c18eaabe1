import NIOCore

/// Writes the heads the router forwards: the start line in HTTP/1.1, the fields that were not
/// dropped copied as they arrived (in one piece when none was), then the router's own fields.
public enum HeadWriter {
  /// The request head for an upstream: hop-by-hop fields and an answered `Expect` left out, the
  /// client's address appended to `x-forwarded-for`, `x-forwarded-proto` added when absent
  /// (`https` when the client came over TLS).
  /// `tail`: `forwardedTail(clientIP:secure:)` made once for the connection, written whole
  /// when the request brings no forwarding fields of its own and no upgrade (nearly all).
  public static func request(
    _ head: MessageHead, clientIP: String?, secure: Bool = false, tail: ByteBuffer? = nil,
    into out: inout ByteBuffer
  ) {
    if !head.dropsAny, endsInCanonicalVersion(head) {
      // The start line ends as the router writes it: the start line and the fields go as
      // they came, in one copy.
      copy(head, 0..<head.fieldBlock.upperBound, into: &out)
    } else {
      copy(head, head.requestLinePrefix, into: &out)
      out.writeStaticString("HTTP/1.1\r\n")
      fields(head, dropFraming: false, into: &out)
    }
    if let tail, head.forwardedFor == nil, !head.hasForwardedProto, head.upgrade == nil {
      out.writeImmutableBuffer(tail)
      return
    }
    if let clientIP {
      out.writeStaticString("x-forwarded-for: ")
      if let earlier = head.forwardedFor {
        out.writeString(earlier)
        out.writeStaticString(", ")
      }
      out.writeString(clientIP)
      out.writeStaticString("\r\n")
    } else if let earlier = head.forwardedFor {
      out.writeStaticString("x-forwarded-for: ")
      out.writeString(earlier)
      out.writeStaticString("\r\n")
    }
    if !head.hasForwardedProto {
      if secure {
        out.writeStaticString("x-forwarded-proto: https\r\n")
      } else {
        out.writeStaticString("x-forwarded-proto: http\r\n")
      }
    }
    if head.upgrade != nil { upgradeFields(head, into: &out) }
    out.writeStaticString("\r\n")
  }

  /// Whether the request line ends in exactly `HTTP/1.1\r\n` (the parser also takes
  /// `http/1.1` and a bare line feed, which the writer puts right).
  private static func endsInCanonicalVersion(_ head: MessageHead) -> Bool {
    let start = head.requestLinePrefix.upperBound
    guard head.minorVersion == 1, head.fieldBlock.lowerBound == start + 10 else { return false }
    return head.bytes.withUnsafeReadableBytes { raw in
      // "HTTP/1.1" as a little-endian word, then "\r\n".
      raw.loadUnaligned(fromByteOffset: start, as: UInt64.self) == 0x312E_312F_5054_5448
        && raw[start + 8] == 0x0D && raw[start + 9] == 0x0A
    }
  }

  /// The fields the router adds to a request that brings none of them, and the empty line:
  /// `x-forwarded-for` (when the client's address is known) and `x-forwarded-proto`.
  public static func forwardedTail(clientIP: String?, secure: Bool) -> ByteBuffer {
    var out = ByteBufferAllocator().buffer(capacity: 64)
    if let clientIP {
      out.writeStaticString("x-forwarded-for: ")
      out.writeString(clientIP)
      out.writeStaticString("\r\n")
    }
    out.writeStaticString(
      secure ? "x-forwarded-proto: https\r\n\r\n" : "x-forwarded-proto: http\r\n\r\n")
    return out
  }

  /// `connection: upgrade` and the `upgrade` field as the message gave it.
  private static func upgradeFields(_ head: MessageHead, into out: inout ByteBuffer) {
    guard let value = head.upgrade else { return }
    out.writeStaticString("connection: upgrade\r\nupgrade: ")
    copy(head, value, into: &out)
    out.writeStaticString("\r\n")
  }

  /// How the client's connection fares after a response.
  public enum Persistence {
    /// HTTP/1.1 keeps it without saying so.
    case implicit
    /// An HTTP/1.0 client kept only if told.
    case keepAlive
    case close
    /// The connection carries another protocol from here on (a 101 answer to an upgrade).
    case upgraded
  }

  /// The response head for the client. `stamps` are prebuilt field lines; `dechunk` drops the
  /// framing fields of a chunked answer whose data is forwarded alone.
  public static func response(
    _ head: MessageHead, stamps: ByteBuffer?, extra: ByteBuffer? = nil, persistence: Persistence,
    dechunk: Bool, into out: inout ByteBuffer
  ) {
    out.writeStaticString("HTTP/1.1")
    copy(head, head.statusLineSuffix, into: &out)
    out.writeStaticString("\r\n")
    fields(head, dropFraming: dechunk, into: &out)
    if var stamps { out.writeBuffer(&stamps) }
    if var extra { out.writeBuffer(&extra) }
    switch persistence {
    case .implicit: break
    case .keepAlive: out.writeStaticString("connection: keep-alive\r\n")
    case .close: out.writeStaticString("connection: close\r\n")
    case .upgraded: upgradeFields(head, into: &out)
    }
    out.writeStaticString("\r\n")
  }

  /// The field lines the router adds to every answer from one slot of one set.
  public static func stamps(color: String, slot: String, image: String, deployment: String)
    -> ByteBuffer
  {
    var out = ByteBuffer()
    for (name, value) in stampFields(
      color: color, slot: slot, image: image, deployment: deployment)
    {
      out.writeString(name)
      out.writeStaticString(": ")
      out.writeString(value)
      out.writeStaticString("\r\n")
    }
    return out
  }

  /// The same fields as names and values (an HTTP/2 answer's HEADERS).
  public static func stampFields(color: String, slot: String, image: String, deployment: String)
    -> [(String, String)]
  {
    [
      ("x-turnout-color", color), ("x-turnout-slot", slot), ("x-turnout-image", image),
      ("x-turnout-deployment", deployment),
    ]
  }

  /// The router's own answer: status, a plain-text message, its error mark.
  /// `exact`: the body is `message` as it is, and the answer is not marked as the router's
  /// error (an ACME challenge's key authorization).
  public static func answer(
    status: Int, reason: String, message: String, close: Bool, includeBody: Bool,
    location: String? = nil, exact: Bool = false
  ) -> ByteBuffer {
    let body = exact ? message : message + "\n"
    var out = ByteBuffer()
    out.writeString("HTTP/1.1 \(status) \(reason)\r\n")
    if let location { out.writeString("location: \(location)\r\n") }
    out.writeStaticString("content-type: text/plain; charset=utf-8\r\n")
    out.writeString("content-length: \(body.utf8.count)\r\n")
    if !exact { out.writeStaticString("x-turnout-error: router\r\n") }
    if close { out.writeStaticString("connection: close\r\n") }
    out.writeStaticString("\r\n")
    if includeBody { out.writeString(body) }
    return out
  }

  /// The field lines kept, as they arrived: the whole block when none is dropped, else each
  /// run of consecutive kept lines in one piece.
  private static func fields(_ head: MessageHead, dropFraming: Bool, into out: inout ByteBuffer) {
    let dropping = dropFraming && head.fields.contains(where: \.framing)
    head.bytes.withUnsafeReadableBytes { bytes in
      guard head.dropsAny || dropping else {
        out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[head.fieldBlock]))
        return
      }
      var run = 0..<0
      for field in head.fields where !field.dropped && !(dropping && field.framing) {
        let line = field.name.lowerBound..<field.lineEnd
        if !run.isEmpty, run.upperBound == line.lowerBound {
          run = run.lowerBound..<line.upperBound
        } else {
          if !run.isEmpty { out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[run])) }
          run = line
        }
      }
      if !run.isEmpty { out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[run])) }
    }
  }

  private static func copy(_ head: MessageHead, _ range: Range<Int>, into out: inout ByteBuffer) {
    guard !range.isEmpty else { return }
    head.bytes.withUnsafeReadableBytes { bytes in
      out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[range]))
    }
  }
}
