/// A forward-only reader of one JSON line, for the frames the cluster port reads most (a
/// heartbeat a second from every node). It reads only the plain forms this project's own
/// encoders write: a string with an escape, a number it cannot hold, or anything else unusual
/// makes a read return nil, and the caller hands the line to `JSONDecoder`, which accepts every
/// valid line and says what is wrong with an invalid one.
struct JSONScanner {
  private let bytes: UnsafeRawBufferPointer
  private var at = 0

  init(_ bytes: UnsafeRawBufferPointer) {
    self.bytes = bytes
  }

  /// True once only blanks are left.
  var atEnd: Bool {
    mutating get {
      skipSpace()
      return at == bytes.count
    }
  }

  private mutating func skipSpace() {
    while at < bytes.count {
      switch bytes[at] {
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): at += 1
      default: return
      }
    }
  }

  /// Takes `byte` (after blanks) if it is next.
  mutating func take(_ byte: UInt8) -> Bool {
    skipSpace()
    guard at < bytes.count, bytes[at] == byte else { return false }
    at += 1
    return true
  }

  /// Takes `null` if it is next.
  mutating func takeNull() -> Bool {
    skipSpace()
    guard at + 4 <= bytes.count, bytes[at] == UInt8(ascii: "n"), bytes[at + 1] == UInt8(ascii: "u"),
      bytes[at + 2] == UInt8(ascii: "l"), bytes[at + 3] == UInt8(ascii: "l")
    else { return false }
    at += 4
    return true
  }

  /// The bytes of a string without escapes, quotes excluded; nil for anything else.
  private mutating func rawString() -> Range<Int>? {
    guard take(UInt8(ascii: "\"")) else { return nil }
    let start = at
    while at < bytes.count {
      let byte = bytes[at]
      if byte == UInt8(ascii: "\"") {
        at += 1
        return start..<(at - 1)
      }
      // An escape or a raw control byte: left to the full decoder.
      if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
      at += 1
    }
    return nil
  }

  /// A string without escapes, valid UTF-8; nil otherwise.
  mutating func string() -> String? {
    guard let range = rawString() else { return nil }
    return String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
  }

  /// The next object key, compared by its bytes; nil when the next token is not a plain key
  /// followed by its colon.
  mutating func key() -> Key? {
    guard let range = rawString(), take(UInt8(ascii: ":")) else { return nil }
    return Key(bytes: UnsafeRawBufferPointer(rebasing: bytes[range]))
  }

  /// `true` or `false`.
  mutating func bool() -> Bool? {
    skipSpace()
    if bytes.count - at >= 4, bytes[at] == UInt8(ascii: "t"), bytes[at + 1] == UInt8(ascii: "r"),
      bytes[at + 2] == UInt8(ascii: "u"), bytes[at + 3] == UInt8(ascii: "e")
    {
      at += 4
      return true
    }
    if bytes.count - at >= 5, bytes[at] == UInt8(ascii: "f"), bytes[at + 1] == UInt8(ascii: "a"),
      bytes[at + 2] == UInt8(ascii: "l"), bytes[at + 3] == UInt8(ascii: "s"),
      bytes[at + 4] == UInt8(ascii: "e")
    {
      at += 5
      return false
    }
    return nil
  }

  /// An array of plain strings.
  mutating func strings() -> [String]? {
    guard take(UInt8(ascii: "[")) else { return nil }
    var out: [String] = []
    if take(UInt8(ascii: "]")) { return out }
    repeat {
      guard let value = string() else { return nil }
      out.append(value)
    } while take(UInt8(ascii: ","))
    return take(UInt8(ascii: "]")) ? out : nil
  }

  /// An object of plain strings; a key given twice is left to the full decoder.
  mutating func stringMap() -> [String: String]? {
    guard take(UInt8(ascii: "{")) else { return nil }
    var out: [String: String] = [:]
    if take(UInt8(ascii: "}")) { return out }
    repeat {
      guard let name = string(), take(UInt8(ascii: ":")), let value = string(),
        out.updateValue(value, forKey: name) == nil
      else { return nil }
    } while take(UInt8(ascii: ","))
    return take(UInt8(ascii: "}")) ? out : nil
  }

  /// An integer that fits in 64 bits, without fraction or exponent.
  mutating func int64() -> Int64? {
    skipSpace()
    var negative = false
    if at < bytes.count, bytes[at] == UInt8(ascii: "-") {
      negative = true
      at += 1
    }
    let start = at
    var value: Int64 = 0
    while at < bytes.count, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
      let digit = Int64(bytes[at] - UInt8(ascii: "0"))
      let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) =
        negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
      if overflow1 || overflow2 { return nil }
      value = sum
      at += 1
    }
    guard at > start, at - start == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
    if at < bytes.count {
      switch bytes[at] {
      case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
      default: break
      }
    }
    return value
  }

  /// A number as a `Double`.
  mutating func double() -> Double? {
    skipSpace()
    let start = at
    while at < bytes.count {
      switch bytes[at] {
      case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"),
        UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
        at += 1
      default:
        return number(start..<at)
      }
    }
    return number(start..<at)
  }

  private func number(_ range: Range<Int>) -> Double? {
    guard !range.isEmpty,
      let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self),
      let value = Double(text), value.isFinite
    else { return nil }
    return value
  }

  /// An object key's bytes, for comparison with the names a reader knows.
  struct Key {
    let bytes: UnsafeRawBufferPointer

    static func == (key: Key, name: StaticString) -> Bool {
      guard key.bytes.count == name.utf8CodeUnitCount else { return false }
      return key.bytes.elementsEqual(
        UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }
  }
}

extension JSONScanner {
  /// Reads an object's members: `member` is called with each key and reads its value,
  /// returning false to give up. False for anything but a whole object.
  static func object(
    _ scanner: inout JSONScanner, _ member: (Key, inout JSONScanner) -> Bool
  ) -> Bool {
    guard scanner.take(UInt8(ascii: "{")) else { return false }
    if scanner.take(UInt8(ascii: "}")) { return true }
    repeat {
      guard let key = scanner.key(), member(key, &scanner) else { return false }
    } while scanner.take(UInt8(ascii: ","))
    return scanner.take(UInt8(ascii: "}"))
  }

  /// Reads an array's elements with `element`, which returns nil to give up.
  static func array<T>(_ scanner: inout JSONScanner, _ element: (inout JSONScanner) -> T?) -> [T]? {
    guard scanner.take(UInt8(ascii: "[")) else { return nil }
    var out: [T] = []
    if scanner.take(UInt8(ascii: "]")) { return out }
    repeat {
      guard let value = element(&scanner) else { return nil }
      out.append(value)
    } while scanner.take(UInt8(ascii: ","))
    return scanner.take(UInt8(ascii: "]")) ? out : nil
  }
}

/// Writes the JSON the scanner reads back: strings escaped as `LineCodec.jsonString` does,
/// numbers in their shortest exact form.
struct JSONLine {
  private(set) var text: String

  init(capacity: Int) {
    text = ""
    text.reserveCapacity(capacity)
  }

  mutating func raw(_ part: String) { text += part }

  mutating func string(_ value: String) { text += LineCodec.jsonString(value) }

  mutating func int(_ value: Int64) { text += String(value) }

  mutating func strings(_ values: [String]) {
    text += "["
    for (index, value) in values.enumerated() {
      if index > 0 { text += "," }
      string(value)
    }
    text += "]"
  }

  /// An object of strings, its keys sorted as `JSONEncoder` sorts them.
  mutating func map(_ values: [String: String]) {
    text += "{"
    for (index, key) in values.keys.sorted().enumerated() {
      if index > 0 { text += "," }
      string(key)
      text += ":"
      string(values[key]!)
    }
    text += "}"
  }

  /// A finite double; nil (nothing written) for infinity or NaN, which JSON cannot hold.
  mutating func double(_ value: Double) -> Bool {
    guard value.isFinite else { return false }
    // A whole number is written without its ".0", as JSONEncoder writes it.
    if value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
      text += String(Int64(value))
    } else {
      text += "\(value)"
    }
    return true
  }
}
