import NIOCore

/// Reads a tar stream (ustar, GNU long names, PAX path and size) as it arrives, piece by
/// piece, without holding more than one header: what `docker save` writes. Pure: bytes in,
/// events out.
public struct TarReader {
  /// One member of the archive.
  public struct Entry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case file, directory, link, other }
    public var name: String
    public var size: Int64
    public var kind: Kind
  }

  public enum Event: Equatable {
    case begin(Entry)
    /// Bytes of the entry begun last.
    case bytes(ByteBuffer)
    case end
  }

  public struct Failure: Error, Hashable, CustomStringConvertible {
    public let description: String
  }

  private enum State {
    case header
    /// Data of an entry shown to the caller.
    case data(remaining: Int64, padding: Int)
    /// Data read for ourselves: a GNU long name or PAX records.
    case meta(kind: UInt8, remaining: Int64, padding: Int, collected: [UInt8])
    case padding(Int)
    case finished
  }

  private var state = State.header
  private var pending = ByteBuffer()
  private var longName: String?
  private var paxPath: String?
  private var paxSize: Int64?
  public private(set) var isFinished = false

  public init() {}

  /// Takes the next bytes of the stream; returns what they completed.
  public mutating func feed(_ bytes: ByteBuffer) throws(Failure) -> [Event] {
    var input = bytes
    var events: [Event] = []
    while input.readableBytes > 0 {
      switch state {
      case .finished:
        return events
      case .header:
        var chunk = input.readSlice(length: min(512 - pending.readableBytes, input.readableBytes))!
        pending.writeBuffer(&chunk)
        guard pending.readableBytes == 512 else { return events }
        let block = pending.readBytes(length: 512)!
        pending.clear()
        try header(block, into: &events)
      case .data(let remaining, let padding):
        let take = Int(min(Int64(input.readableBytes), remaining))
        if take > 0 { events.append(.bytes(input.readSlice(length: take)!)) }
        let left = remaining - Int64(take)
        if left == 0 {
          events.append(.end)
          state = padding > 0 ? .padding(padding) : .header
        } else {
          state = .data(remaining: left, padding: padding)
        }
      case .meta(let kind, let remaining, let padding, var collected):
        let take = Int(min(Int64(input.readableBytes), remaining))
        collected += input.readBytes(length: take)!
        let left = remaining - Int64(take)
        if left == 0 {
          try applyMeta(kind, collected)
          state = padding > 0 ? .padding(padding) : .header
        } else {
          state = .meta(kind: kind, remaining: left, padding: padding, collected: collected)
        }
      case .padding(let left):
        let take = min(left, input.readableBytes)
        input.moveReaderIndex(forwardBy: take)
        state = left - take > 0 ? .padding(left - take) : .header
      }
    }
    return events
  }

  private mutating func header(_ block: [UInt8], into events: inout [Event]) throws(Failure) {
    if block.allSatisfy({ $0 == 0 }) {
      // Two zero blocks end the archive; one is enough to stop reading.
      state = .finished
      isFinished = true
      return
    }
    let stored = block[148..<156]
    let sum = block.enumerated().reduce(0) {
      $0 + Int((148..<156).contains($1.offset) ? 32 : $1.element)
    }
    guard let expected = Self.octal(stored), Int64(sum) == expected else {
      throw Failure(
        description:
          "a tar header's checksum does not match: the stream is not a tar archive or is damaged")
    }
    var name = Self.text(block[0..<100])
    if block[257..<262].elementsEqual(Array("ustar".utf8)) {
      let prefix = Self.text(block[345..<500])
      if !prefix.isEmpty { name = prefix + "/" + name }
    }
    guard var size = Self.number(block[124..<136]) else {
      throw Failure(description: "the tar entry '\(name)' has an unreadable size")
    }
    let type = block[156]
    let padding = Int((512 - size % 512) % 512)
    if type == UInt8(ascii: "L") || type == UInt8(ascii: "x") || type == UInt8(ascii: "g") {
      guard size <= 1 << 20 else {
        throw Failure(description: "a tar extended header of \(size) bytes is too large")
      }
      state =
        size == 0 ? .header : .meta(kind: type, remaining: size, padding: padding, collected: [])
      return
    }
    if let path = paxPath ?? longName { name = path }
    if let paxSize { size = paxSize }
    longName = nil
    paxPath = nil
    paxSize = nil
    let kind: Entry.Kind =
      switch type {
      case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): .file
      case UInt8(ascii: "5"): .directory
      case UInt8(ascii: "1"), UInt8(ascii: "2"): .link
      default: .other
      }
    let dataSize = kind == .file || kind == .other ? size : 0
    events.append(.begin(Entry(name: name, size: dataSize, kind: kind)))
    let dataPadding = Int((512 - dataSize % 512) % 512)
    state = dataSize == 0 ? .header : .data(remaining: dataSize, padding: dataPadding)
    if dataSize == 0 { events.append(.end) }
  }

  private mutating func applyMeta(_ kind: UInt8, _ bytes: [UInt8]) throws(Failure) {
    if kind == UInt8(ascii: "L") {
      longName = Self.text(bytes[...])
      return
    }
    guard kind == UInt8(ascii: "x") else { return }
    // Records: "LENGTH KEY=VALUE\n", LENGTH counting the whole record.
    var rest = bytes[...]
    while !rest.isEmpty {
      guard let space = rest.firstIndex(of: UInt8(ascii: " ")),
        let length = Int(String(decoding: rest[rest.startIndex..<space], as: UTF8.self)),
        length > 0, rest.count >= length
      else { throw Failure(description: "a PAX header record is malformed") }
      let record = rest[(space + 1)..<(rest.startIndex + length - 1)]
      rest = rest[(rest.startIndex + length)...]
      guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else { continue }
      let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
      let value = String(decoding: record[(equals + 1)...], as: UTF8.self)
      if key == "path" { paxPath = value }
      if key == "size" { paxSize = Int64(value) }
    }
  }

  static func text(_ field: ArraySlice<UInt8>) -> String {
    String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
  }

  static func octal(_ field: ArraySlice<UInt8>) -> Int64? {
    let digits = field.drop { $0 == 32 || $0 == 0 }.prefix { $0 >= 48 && $0 <= 55 }
    guard !digits.isEmpty else { return field.allSatisfy { $0 == 0 || $0 == 32 } ? 0 : nil }
    return digits.reduce(Int64(0)) { $0 * 8 + Int64($1 - 48) }
  }

  /// Octal, or base-256 when the high bit of the first byte is set (GNU, for large files).
  static func number(_ field: ArraySlice<UInt8>) -> Int64? {
    guard let first = field.first, first & 0x80 != 0 else { return octal(field) }
    var value = Int64(first & 0x7f)
    for byte in field.dropFirst() { value = value << 8 | Int64(byte) }
    return value
  }
}
