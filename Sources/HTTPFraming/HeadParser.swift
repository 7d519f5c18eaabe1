import NIOCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Parses HTTP/1.x heads straight from the bytes the connection read: one pass, no string per
/// header, strict about what lets two parsers disagree on where a message ends (bare CR, folded
/// lines, space before the colon, a length next to a transfer coding, lengths that differ).
public enum HeadParser {
  /// The size of the head at the start of `buffer`, through the empty line that ends it, or nil
  /// when the empty line has not arrived yet.
  public static func headLength(in buffer: ByteBuffer) -> Int? {
    buffer.withUnsafeReadableBytes { bytes -> Int? in
      var index = 0
      let count = bytes.count
      while index < count {
        guard let newline = find(0x0A, in: bytes, from: index) else { return nil }
        // An empty line: LF or CR LF right after the previous line's LF.
        if newline == index || (newline == index + 1 && bytes[index] == 0x0D) {
          return index == 0 ? nil : newline + 1
        }
        index = newline + 1
      }
      return nil
    }
  }

  /// Empty lines before a request are ignored (RFC 9112 §2.2); how many bytes of them lead.
  public static func leadingEmptyLines(in buffer: ByteBuffer) -> Int {
    buffer.withUnsafeReadableBytes { bytes in
      var index = 0
      while index < bytes.count, bytes[index] == 0x0D || bytes[index] == 0x0A { index += 1 }
      return index
    }
  }

  /// Parses a request head (the bytes `headLength` measured).
  public static func request(_ head: ByteBuffer, previewHeader: String?) throws(HeadError)
    -> MessageHead
  {
    // The head is made inside the closure and returned from it: captured from outside, it
    // was copied on the way out (a copy of every field and reference, each request).
    try head.withReadableBytes { bytes throws(HeadError) -> MessageHead in
      var message = MessageHead(bytes: head)
      let end = try lineEnd(bytes, from: 0)
      try parseRequestLine(bytes, end.content, into: &message)
      let facts = try parseFields(bytes, from: end.next, into: &message) {
        name, value, message throws(HeadError) in
        try classifyRequestField(bytes, name, value, previewHeader, &message)
      }
      try finishRequest(facts, &message)
      return message
    }
  }

  /// Parses a response head; `stamping` drops the upstream's own `x-turnout-*` fields.
  public static func response(_ head: ByteBuffer, stamping: Bool) throws(HeadError) -> MessageHead {
    try head.withReadableBytes { bytes throws(HeadError) -> MessageHead in
      var message = MessageHead(bytes: head)
      let end = try lineEnd(bytes, from: 0)
      try parseStatusLine(bytes, end.content, into: &message)
      let facts = try parseFields(bytes, from: end.next, into: &message) {
        name, value, message throws(HeadError) in
        stamping && name.count > 10 && equalsLowercase(bytes, name.prefix(10), "x-turnout-")
      }
      message.keepAlive = message.minorVersion == 1 ? !facts.close : facts.keepAlive
      // A 101 names its protocol in `upgrade`; some servers leave `connection` out of it.
      if message.minorVersion == 1, facts.upgrade || message.status == 101 {
        message.upgrade = facts.upgradeValue
      }
      message.contentLength = facts.contentLength
      message.chunked = facts.transferEncoding ?? false
      message.hasTransferEncoding = facts.transferEncoding != nil
      return message
    }
  }

  /// How a response to a request with `method` is delimited (RFC 9112 §6.3).
  public static func responseFraming(_ response: MessageHead, method: MessageHead.Method)
    -> BodyFraming
  {
    if method == .head || response.status < 200 || response.status == 204
      || response.status == 304
    {
      return .none
    }
    if response.hasTransferEncoding { return response.chunked ? .chunked : .untilClose }
    if let length = response.contentLength { return length == 0 ? .none : .length(length) }
    return .untilClose
  }

  // MARK: lines

  struct LineEnd {
    var content: Range<Int>
    var next: Int
  }

  static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(HeadError)
    -> LineEnd
  {
    guard let newline = find(0x0A, in: bytes, from: start) else {
      throw HeadError("the head ends in the middle of a line")
    }
    var end = newline
    if end > start, bytes[end - 1] == 0x0D { end -= 1 }
    return LineEnd(content: start..<end, next: newline + 1)
  }

  static func find(_ byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int)
    -> Int?
  {
    guard start < bytes.count, let base = bytes.baseAddress else { return nil }
    guard let hit = memchr(base + start, Int32(byte), bytes.count - start) else { return nil }
    return base.distance(to: UnsafeRawPointer(hit))
  }

  static func parseRequestLine(
    _ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, into message: inout MessageHead
  ) throws(HeadError) {
    guard let space = firstIndex(of: 0x20, in: bytes, line), space > line.lowerBound else {
      throw HeadError("the request line has no method")
    }
    let method = line.lowerBound..<space
    for index in method where !isTokenByte(bytes[index]) {
      throw HeadError("the method has a character a method cannot have")
    }
    message.method = parseMethod(bytes, method)
    let targetStart = space + 1
    guard let secondSpace = firstIndex(of: 0x20, in: bytes, targetStart..<line.upperBound),
      secondSpace > targetStart
    else { throw HeadError("the request line has no target or no version") }
    for index in targetStart..<secondSpace where bytes[index] <= 0x20 || bytes[index] == 0x7F {
      throw HeadError("the request target has a control character or space")
    }
    message.minorVersion = try parseVersion(bytes, (secondSpace + 1)..<line.upperBound)
    message.requestLinePrefix = line.lowerBound..<(secondSpace + 1)
  }

  static func parseStatusLine(
    _ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, into message: inout MessageHead
  ) throws(HeadError) {
    guard line.count >= 12, bytes[line.lowerBound + 8] == 0x20 else {
      throw HeadError("the status line is not 'HTTP/1.x CODE REASON'")
    }
    message.minorVersion = try parseVersion(bytes, line.lowerBound..<(line.lowerBound + 8))
    var status = 0
    for index in (line.lowerBound + 9)..<(line.lowerBound + 12) {
      let byte = bytes[index]
      guard byte >= 0x30, byte <= 0x39 else { throw HeadError("the status code is not 3 digits") }
      status = status * 10 + Int(byte - 0x30)
    }
    guard status >= 100, line.count == 12 || bytes[line.lowerBound + 12] == 0x20 else {
      throw HeadError("the status code is not 3 digits")
    }
    message.status = status
    message.statusLineSuffix = (line.lowerBound + 8)..<line.upperBound
  }

  static func parseVersion(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>)
    throws(HeadError) -> Int
  {
    guard range.count == 8, equalsLowercase(bytes, range.prefix(7), "http/1.") else {
      throw HeadError("only HTTP/1.0 and HTTP/1.1 are spoken here")
    }
    switch bytes[range.lowerBound + 7] {
    case 0x30: return 0
    case 0x31: return 1
    default: throw HeadError("only HTTP/1.0 and HTTP/1.1 are spoken here")
    }
  }

  static func parseMethod(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>)
    -> MessageHead.Method
  {
    func its(_ name: StaticString) -> Bool {
      name.utf8CodeUnitCount == range.count
        && memcmp(bytes.baseAddress! + range.lowerBound, name.utf8Start, range.count) == 0
    }
    switch range.count {
    case 3: return its("GET") ? .get : its("PUT") ? .put : .other
    case 4: return its("POST") ? .post : its("HEAD") ? .head : .other
    case 5: return its("PATCH") ? .patch : its("TRACE") ? .trace : .other
    case 6: return its("DELETE") ? .delete : .other
    case 7: return its("OPTIONS") ? .options : its("CONNECT") ? .connect : .other
    default: return .other
    }
  }

}

extension ByteBuffer {
  /// `withUnsafeReadableBytes` for a body that throws `HeadError`, rethrown as such.
  /// Inlinable, so every caller (the router's framers too) gets it specialized: unspecialized,
  /// it looked up `Result`'s metadata at run time on every head and body part.
  @inlinable
  public func withReadableBytes<T>(_ body: (UnsafeRawBufferPointer) throws(HeadError) -> T)
    throws(HeadError) -> T
  {
    var failure: HeadError?
    let value: T? = withUnsafeReadableBytes { bytes in
      do throws(HeadError) { return try body(bytes) } catch {
        failure = error
        return nil
      }
    }
    if let failure { throw failure }
    return value!
  }
}
