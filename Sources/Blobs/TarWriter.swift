/// Writes tar headers the way build contexts need them: ustar, with a PAX record for a
/// name that does not fit, owner 0:0 (as Docker's client sends a context). Pure: the caller
/// writes the headers, the file bytes and the padding. `TarReader` reads what this writes.
public enum TarWriter {
  public enum Kind: Sendable {
    case file(size: Int64)
    case directory
    case symlink(target: String)
  }

  public static let blockSize = 512

  /// The header block(s) of one member: a PAX header first when the name or link is long.
  public static func header(name: String, kind: Kind, mode: Int, modified: Int64) -> [UInt8] {
    var name = name
    if case .directory = kind, !name.hasSuffix("/") { name += "/" }
    var out: [UInt8] = []
    var records = ""
    if name.utf8.count > 100 { records += paxRecord("path", name) }
    if case .symlink(let target) = kind, target.utf8.count > 100 {
      records += paxRecord("linkpath", target)
    }
    if !records.isEmpty {
      let bytes = Array(records.utf8)
      out += block(
        name: "././@PaxHeader",
        type: UInt8(ascii: "x"), size: Int64(bytes.count), mode: 0o644, modified: modified,
        link: "")
      out += bytes + padding(Int64(bytes.count))
    }
    switch kind {
    case .file(let size):
      out += block(
        name: name, type: UInt8(ascii: "0"), size: size, mode: mode, modified: modified, link: "")
    case .directory:
      out += block(
        name: name, type: UInt8(ascii: "5"), size: 0, mode: mode, modified: modified, link: "")
    case .symlink(let target):
      out += block(
        name: name, type: UInt8(ascii: "2"), size: 0, mode: mode, modified: modified,
        link: target)
    }
    return out
  }

  /// Zeros that round `size` up to a whole block.
  public static func padding(_ size: Int64) -> [UInt8] {
    let rest = Int(size % Int64(blockSize))
    return rest == 0 ? [] : [UInt8](repeating: 0, count: blockSize - rest)
  }

  /// The two zero blocks that end an archive.
  public static let trailer = [UInt8](repeating: 0, count: 2 * blockSize)

  /// How many bytes a member takes in the archive, headers and padding included.
  public static func length(name: String, kind: Kind) -> Int64 {
    let head = Int64(header(name: name, kind: kind, mode: 0, modified: 0).count)
    guard case .file(let size) = kind else { return head }
    return head + size + Int64(padding(size).count)
  }

  static func paxRecord(_ key: String, _ value: String) -> String {
    // "LEN key=value\n", LEN counting its own digits.
    let body = " \(key)=\(value)\n"
    var length = body.utf8.count + 1
    while "\(length)".count + body.utf8.count > length { length += 1 }
    return "\(length)\(body)"
  }

  static func block(
    name: String, type: UInt8, size: Int64, mode: Int, modified: Int64, link: String
  ) -> [UInt8] {
    var header = [UInt8](repeating: 0, count: blockSize)
    func put(_ bytes: some Collection<UInt8>, at offset: Int, width: Int) {
      for (index, byte) in bytes.prefix(width).enumerated() { header[offset + index] = byte }
    }
    func octal(_ value: Int64, at offset: Int, width: Int) {
      let digits = String(value, radix: 8)
      let padded = String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
      put(padded.utf8, at: offset, width: width - 1)
    }
    put(name.utf8, at: 0, width: 100)
    octal(Int64(mode & 0o7777), at: 100, width: 8)
    octal(0, at: 108, width: 8)
    octal(0, at: 116, width: 8)
    octal(size, at: 124, width: 12)
    octal(max(0, modified), at: 136, width: 12)
    header[156] = type
    put(link.utf8, at: 157, width: 100)
    put("ustar\u{0}00".utf8, at: 257, width: 8)
    put("root".utf8, at: 265, width: 32)
    put("root".utf8, at: 297, width: 32)
    // The checksum is taken with its own field as spaces.
    for index in 148..<156 { header[index] = UInt8(ascii: " ") }
    let sum = header.reduce(0) { $0 + Int64($1) }
    let digits = String(sum, radix: 8)
    put((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8, at: 148, width: 6)
    header[154] = 0
    header[155] = UInt8(ascii: " ")
    return header
  }
}
