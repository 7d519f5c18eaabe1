import NIOCore

/// Header fields and the byte helpers the parser reads them with.
extension HeadParser {
  // MARK: fields

  /// What the fields said about length, coding and the connection.
  public struct FieldFacts {
    var contentLength: Int?
    /// Present when a transfer coding was given: whether its last coding is chunked.
    var transferEncoding: Bool?
    var close = false
    var keepAlive = false
    /// The connection field lists `upgrade`.
    var upgrade = false
    var upgradeValue: Range<Int>?
  }

  /// Reads every field line after the start line. `classify` sees each field the common code
  /// did not take, and returns whether it is dropped.
  static func parseFields(
    _ bytes: UnsafeRawBufferPointer, from start: Int, into message: inout MessageHead,
    classify: (Range<Int>, Range<Int>, inout MessageHead) throws(HeadError) -> Bool
  ) throws(HeadError) -> FieldFacts {
    var facts = FieldFacts()
    var listed: [String] = []
    var position = start
    message.fields.reserveCapacity(16)
    while true {
      let end = try lineEnd(bytes, from: position)
      let line = end.content
      if line.isEmpty {
        message.fieldBlock = start..<position
        break
      }
      position = end.next
      let first = bytes[line.lowerBound]
      if first == 0x20 || first == 0x09 {
        throw HeadError("a header line is folded onto the one before (obsolete line folding)")
      }
      // The name and the search for its colon in one pass.
      var colon = line.lowerBound
      while colon < line.upperBound, bytes[colon] != 0x3A {
        guard isTokenByte(bytes[colon]) else {
          guard firstIndex(of: 0x3A, in: bytes, colon..<line.upperBound) != nil else {
            throw HeadError("a header line has no name or no colon")
          }
          throw HeadError("a header name has a space or a character a name cannot have")
        }
        colon += 1
      }
      guard colon < line.upperBound, colon > line.lowerBound else {
        throw HeadError("a header line has no name or no colon")
      }
      let name = line.lowerBound..<colon
      var valueStart = colon + 1
      var valueEnd = line.upperBound
      while valueStart < valueEnd, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 {
        valueStart += 1
      }
      while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 {
        valueEnd -= 1
      }
      let value = valueStart..<valueEnd
      if hasControlByte(bytes, value) { throw HeadError("a header value has a control character") }
      var dropped = false
      var framing = false
      switch name.count {
      case 2: dropped = equalsLowercase(bytes, name, "te")
      case 7 where equalsLowercase(bytes, name, "upgrade"):
        dropped = true
        if !value.isEmpty { facts.upgradeValue = value }
      case 10:
        if equalsLowercase(bytes, name, "connection") {
          dropped = true
          forEachToken(bytes, value) { token in
            if equalsLowercase(bytes, token, "close") {
              facts.close = true
            } else if equalsLowercase(bytes, token, "keep-alive") {
              facts.keepAlive = true
            } else if equalsLowercase(bytes, token, "upgrade") {
              facts.upgrade = true
            } else {
              listed.append(lowercased(bytes, token))
            }
          }
        } else {
          dropped = equalsLowercase(bytes, name, "keep-alive")
        }
      case 14 where equalsLowercase(bytes, name, "content-length"):
        framing = true
        let length = try parseLength(bytes, value)
        if let previous = facts.contentLength, previous != length {
          throw HeadError("two different content-length values")
        }
        facts.contentLength = length
      case 16: dropped = equalsLowercase(bytes, name, "proxy-connection")
      case 17 where equalsLowercase(bytes, name, "transfer-encoding"):
        framing = true
        var last: Range<Int>?
        forEachToken(bytes, value) { last = $0 }
        facts.transferEncoding = last.map { equalsLowercase(bytes, $0, "chunked") } ?? false
      default: break
      }
      if !dropped { dropped = try classify(name, value, &message) }
      message.fields.append(
        MessageHead.Field(
          name: name, value: value, dropped: dropped, framing: framing, lineEnd: end.next))
      if dropped { message.dropsAny = true }
    }
    // Fields the connection header names are hop-by-hop too (`transfer-encoding` excepted: it
    // frames this very message).
    for name in listed where name != "transfer-encoding" {
      for index in message.fields.indices
      where !message.fields[index].dropped
        && equalsLowercase(bytes, message.fields[index].name, dynamic: name)
      {
        message.fields[index].dropped = true
        message.dropsAny = true
      }
    }
    return facts
  }

  static func classifyRequestField(
    _ bytes: UnsafeRawBufferPointer, _ name: Range<Int>, _ value: Range<Int>,
    _ previewHeader: String?, _ message: inout MessageHead
  ) throws(HeadError) -> Bool {
    switch name.count {
    case 4 where equalsLowercase(bytes, name, "host"):
      guard message.host == nil else { throw HeadError("more than one host header") }
      message.host = string(bytes, value)
    case 6 where equalsLowercase(bytes, name, "expect"):
      if equalsLowercase(bytes, value, "100-continue") {
        message.expectsContinue = true
        return true
      }
    case 15 where equalsLowercase(bytes, name, "x-forwarded-for"):
      let text = string(bytes, value)
      message.forwardedFor = message.forwardedFor.map { $0 + ", " + text } ?? text
      return true
    case 17 where equalsLowercase(bytes, name, "x-forwarded-proto"):
      message.hasForwardedProto = true
    default:
      if let previewHeader, name.count == previewHeader.utf8.count, message.previewValue == nil,
        equalsLowercase(bytes, name, dynamic: previewHeader)
      {
        message.previewValue = string(bytes, value)
      }
    }
    return false
  }

  static func finishRequest(_ facts: FieldFacts, _ message: inout MessageHead)
    throws(HeadError)
  {
    message.keepAlive = message.minorVersion == 1 ? !facts.close : facts.keepAlive
    if let chunked = facts.transferEncoding {
      guard message.minorVersion == 1 else {
        throw HeadError("an HTTP/1.0 request cannot have a transfer-encoding")
      }
      guard facts.contentLength == nil else {
        throw HeadError("a request with both content-length and transfer-encoding")
      }
      guard chunked else { throw HeadError("a request body whose last coding is not chunked") }
      message.framing = .chunked
    } else if let length = facts.contentLength, length > 0 {
      message.framing = .length(length)
    }
    message.contentLength = facts.contentLength
    message.chunked = facts.transferEncoding ?? false
    message.hasTransferEncoding = facts.transferEncoding != nil
    // A protocol switch is asked for by a request without a body (RFC 9110 §7.8): with one,
    // the upgrade fields are dropped and the request goes on as plain HTTP.
    if facts.upgrade, message.minorVersion == 1, message.framing == .none {
      message.upgrade = facts.upgradeValue
    }
  }

  static func parseLength(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>)
    throws(HeadError) -> Int
  {
    guard !value.isEmpty, value.count <= 18 else {
      throw HeadError("content-length is not a number")
    }
    var length = 0
    for index in value {
      let byte = bytes[index]
      guard byte >= 0x30, byte <= 0x39 else { throw HeadError("content-length is not a number") }
      length = length * 10 + Int(byte - 0x30)
    }
    return length
  }

  // MARK: bytes

  static func firstIndex(
    of byte: UInt8, in bytes: UnsafeRawBufferPointer, _ range: Range<Int>
  ) -> Int? {
    var index = range.lowerBound
    while index < range.upperBound {
      if bytes[index] == byte { return index }
      index += 1
    }
    return nil
  }

  /// Calls `body` with each comma-separated token of `value`, trimmed, skipping empty ones.
  static func forEachToken(
    _ bytes: UnsafeRawBufferPointer, _ value: Range<Int>, _ body: (Range<Int>) -> Void
  ) {
    var start = value.lowerBound
    while start <= value.upperBound {
      var end = start
      while end < value.upperBound, bytes[end] != 0x2C { end += 1 }
      var low = start
      var high = end
      while low < high, bytes[low] == 0x20 || bytes[low] == 0x09 { low += 1 }
      while high > low, bytes[high - 1] == 0x20 || bytes[high - 1] == 0x09 { high -= 1 }
      if low < high { body(low..<high) }
      start = end + 1
    }
  }

  /// Whether the bytes in `range` equal `lower` (lowercase ASCII), ignoring ASCII case. Every
  /// field name of every head is compared this way: a literal's bytes are read in place.
  public static func equalsLowercase(
    _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lower: StaticString
  ) -> Bool {
    guard range.count == lower.utf8CodeUnitCount else { return false }
    let want = lower.utf8Start
    var offset = 0
    for index in range {
      guard lowered(bytes[index]) == want[offset] else { return false }
      offset += 1
    }
    return true
  }

  /// `equalsLowercase` against a name known only at run time (a configured header, a field
  /// the connection header lists).
  public static func equalsLowercase(
    _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, dynamic lower: String
  ) -> Bool {
    var expected = lower.utf8.makeIterator()
    for index in range {
      guard let want = expected.next(), lowered(bytes[index]) == want else { return false }
    }
    return expected.next() == nil
  }

  public static func lowered(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
  }

  static func lowercased(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
    String(decoding: range.map { lowered(bytes[$0]) }, as: UTF8.self)
  }

  static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
    String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
  }

  /// RFC 9110 token characters: one bit each in two masks (bytes below 64, and 64 to 127),
  /// one test a byte on every name of every head.
  @inline(__always)
  public static func isTokenByte(_ byte: UInt8) -> Bool {
    let mask: UInt64 = byte < 64 ? 0x03FF_6CFA_0000_0000 : byte < 128 ? 0x57FF_FFFF_C7FF_FFFE : 0
    return (mask >> UInt64(byte & 63)) & 1 == 1
  }

  /// Whether `range` holds a byte a field value cannot have: a control character other than
  /// a tab, or DEL. Eight bytes a step; a step that may hold one (a tab, usually) is looked at
  /// byte by byte.
  static func hasControlByte(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
    var index = range.lowerBound
    let high: UInt64 = 0x8080_8080_8080_8080
    while range.upperBound - index >= 8 {
      let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
      // A byte below 0x20 sets its high bit in the first test, a 0x7F in the second.
      let below = (word &- 0x2020_2020_2020_2020) & ~word & high
      let del = word ^ 0x7F7F_7F7F_7F7F_7F7F
      let isDel = (del &- 0x0101_0101_0101_0101) & ~del & high
      if below | isDel != 0, hasControlByteSlowly(bytes, index..<index + 8) { return true }
      index += 8
    }
    return hasControlByteSlowly(bytes, index..<range.upperBound)
  }

  private static func hasControlByteSlowly(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>)
    -> Bool
  {
    for index in range {
      let byte = bytes[index]
      if (byte < 0x20 && byte != 0x09) || byte == 0x7F { return true }
    }
    return false
  }
}
