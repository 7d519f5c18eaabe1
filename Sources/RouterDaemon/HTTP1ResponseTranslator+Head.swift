import HTTPFraming
import NIOCore
import NIOHPACK

/// The answer's head read straight off the bytes it came in: names compared and lowered as
/// bytes, strings made only for the fields that go out.
extension HTTP1ResponseTranslator {
  /// A head read: its part, and the state after it (nil: unchanged).
  struct Head {
    var part: Part
    var next: State?
  }

  /// The fields a proxy handles itself; every other name goes out as it is (lowered).
  private enum Kind {
    case other, connection, hopByHop, transferEncoding, contentLength
  }

  /// The head `raw` holds whole, through its empty line (`HeadParser.headLength` measured it).
  static func head(_ raw: UnsafeRawBufferPointer, requestIsHead: Bool) -> Result<Head, Failure> {
    // `HTTP/1.1 200 ...`: the three digits after the first space.
    let firstLineEnd = raw.firstIndex(of: 10) ?? raw.count
    guard let space = raw[..<firstLineEnd].firstIndex(of: 32), space + 3 < firstLineEnd,
      let status = digits(ArraySlice(raw[(space + 1)...(space + 3)]))
    else { return .failure(.malformed("bad status line")) }
    var headers = HPACKHeaders()
    headers.add(name: ":status", value: String(status))
    var length: Int?
    var chunked = false
    // Names the `connection` field lists are hop-by-hop too; rare, so looked for only then.
    var listed: [String] = []
    var lineStart = firstLineEnd + 1
    let fieldsEnd = raw.count
    while lineStart < fieldsEnd {
      var lineEnd = lineStart
      while lineEnd < fieldsEnd, raw[lineEnd] != 10 { lineEnd += 1 }
      defer { lineStart = lineEnd + 1 }
      var contentEnd = lineEnd
      if contentEnd > lineStart, raw[contentEnd - 1] == 13 { contentEnd -= 1 }
      guard let colon = raw[lineStart..<contentEnd].firstIndex(of: 58) else { continue }
      var valueStart = colon + 1
      while valueStart < contentEnd, raw[valueStart] == 32 || raw[valueStart] == 9 {
        valueStart += 1
      }
      var valueEnd = contentEnd
      while valueEnd > valueStart, raw[valueEnd - 1] == 32 || raw[valueEnd - 1] == 9 {
        valueEnd -= 1
      }
      let name = UnsafeRawBufferPointer(rebasing: raw[lineStart..<colon])
      let valueBytes = UnsafeRawBufferPointer(rebasing: raw[valueStart..<valueEnd])
      switch kind(of: name) {
      case .connection:
        listed += String(decoding: valueBytes, as: UTF8.self).split(separator: ",").map {
          String($0.filter { $0 != " " && $0 != "\t" }).lowercased()
        }
        continue
      case .hopByHop: continue
      case .transferEncoding:
        chunked = String(decoding: valueBytes, as: UTF8.self).lowercased().hasSuffix("chunked")
        continue
      case .contentLength:
        length = digits(ArraySlice(valueBytes))
        headers.add(name: "content-length", value: String(decoding: valueBytes, as: UTF8.self))
      case .other:
        headers.add(name: lowered(name), value: String(decoding: valueBytes, as: UTF8.self))
      }
    }
    for name in listed { headers.remove(name: name) }
    if chunked { headers.remove(name: "content-length") }
    if status < 200 {
      // An interim answer (100 Continue): the final one follows.
      return .success(Head(part: .head(headers, endStream: false), next: nil))
    }
    let noBody = requestIsHead || status == 204 || status == 304
    if noBody || (!chunked && length == 0) {
      return .success(Head(part: .head(headers, endStream: true), next: .done))
    }
    let body: Body = chunked ? .chunkSize : length.map(Body.length) ?? .untilClose
    return .success(Head(part: .head(headers, endStream: false), next: .body(body)))
  }

  /// The proxy's parsed answer head as the stream's HEADERS, with no second parse of bytes:
  /// its fields but the hop-by-hop ones, `transfer-encoding`, and `content-length` when a
  /// transfer coding delimits the body; names lowered, then `extra` (the router's stamps and
  /// HSTS). What follows is read as the body `framing` says.
  mutating func start(_ head: MessageHead, framing: BodyFraming, extra: [(String, String)])
    -> Part
  {
    var headers = HPACKHeaders()
    headers.reserveCapacity(head.fields.count + extra.count + 1)
    headers.add(name: ":status", value: String(head.status))
    head.bytes.withUnsafeReadableBytes { raw in
      for field in head.fields where !field.dropped {
        let name = UnsafeRawBufferPointer(rebasing: raw[field.name])
        if field.framing, head.hasTransferEncoding || Self.kind(of: name) != .contentLength {
          continue
        }
        headers.add(
          name: Self.lowered(name),
          value: String(decoding: UnsafeRawBufferPointer(rebasing: raw[field.value]), as: UTF8.self)
        )
      }
    }
    for (name, value) in extra { headers.add(name: name, value: value) }
    switch framing {
    case .none:
      state = .done
      return .head(headers, endStream: true)
    case .length(let length): state = .body(.length(length))
    case .chunked: state = .body(.chunkSize)
    case .untilClose: state = .body(.untilClose)
    }
    return .head(headers, endStream: false)
  }

  private static func kind(of name: UnsafeRawBufferPointer) -> Kind {
    switch name.count {
    case 7 where equal(name, "upgrade"): .hopByHop
    case 10 where equal(name, "connection"): .connection
    case 10 where equal(name, "keep-alive"): .hopByHop
    case 14 where equal(name, "content-length"): .contentLength
    case 16 where equal(name, "proxy-connection"): .hopByHop
    case 17 where equal(name, "transfer-encoding"): .transferEncoding
    default: .other
    }
  }

  /// `name` in any case against a lower-case `known` of the same length.
  private static func equal(_ name: UnsafeRawBufferPointer, _ known: StaticString) -> Bool {
    known.withUTF8Buffer { known in
      for index in 0..<known.count {
        let byte = name[index]
        if (byte >= 65 && byte <= 90 ? byte + 32 : byte) != known[index] { return false }
      }
      return true
    }
  }

  /// A field name in lower case, as HTTP/2 requires; made straight from the bytes when it is.
  private static func lowered(_ name: UnsafeRawBufferPointer) -> String {
    guard name.contains(where: { $0 >= 65 && $0 <= 90 }) else {
      return String(decoding: name, as: UTF8.self)
    }
    return String(unsafeUninitializedCapacity: name.count) { out in
      for (index, byte) in name.enumerated() {
        out[index] = byte >= 65 && byte <= 90 ? byte + 32 : byte
      }
      return name.count
    }
  }
}
