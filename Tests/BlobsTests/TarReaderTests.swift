import Blobs
import Foundation
import NIOCore
import Testing

@Suite("Tar reader: docker save's archives, piece by piece")
struct TarReaderTests {
  /// Reads `archive` fed in pieces of the given sizes (cycled); returns each file's bytes.
  func read(_ archive: [UInt8], pieces: [Int]) throws -> [String: [UInt8]] {
    var reader = TarReader()
    var files: [String: [UInt8]] = [:]
    var current: String?
    var offset = 0
    var turn = 0
    while offset < archive.count {
      let size = min(pieces[turn % pieces.count], archive.count - offset)
      turn += 1
      for event in try reader.feed(ByteBuffer(bytes: archive[offset..<(offset + size)])) {
        switch event {
        case .begin(let entry):
          current = entry.kind == .file ? entry.name : nil
          if let current { files[current] = [] }
        case .bytes(let bytes): if let current { files[current]! += Array(bytes.readableBytesView) }
        case .end: current = nil
        }
      }
      offset += size
    }
    #expect(reader.isFinished)
    return files
  }

  /// An archive made by GNU tar from files in a fresh directory, in `format`.
  func archive(_ files: [String: [UInt8]], format: String) throws -> [UInt8] {
    let dir = NSTemporaryDirectory() + "tar-test-\(UInt64.random(in: 0...UInt64.max))"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for (name, bytes) in files {
      let path = dir + "/" + name
      try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/tar")
    process.arguments = ["--format=\(format)", "-C", dir, "-cf", dir + ".tar", "."]
    try process.run()
    process.waitUntilExit()
    defer { try? FileManager.default.removeItem(atPath: dir + ".tar") }
    return Array(FileManager.default.contents(atPath: dir + ".tar") ?? Data())
  }

  static let longName =
    "0123456789abcdef0123456789abcdef0123456789abcdef/0123456789abcdef0123456789abcdef0123456789abcdef/layer.tar"

  var files: [String: [UInt8]] {
    [
      "manifest.json": Array(#"[{"Config":"c.json"}]"#.utf8),
      "empty": [],
      "exact": [UInt8](repeating: 9, count: 1024),
      Self.longName: (0..<70_001).map { UInt8(truncatingIfNeeded: $0 * 7) },
    ]
  }

  @Test("every file comes out whole, whatever the piece sizes", arguments: ["gnu", "pax", "ustar"])
  func filesComeOutWhole(format: String) throws {
    var expected = files
    if format == "ustar" { expected[Self.longName] = nil }  // ustar cannot hold a 100+ name part
    let tar = try archive(expected, format: format)
    for pieces in [[1], [511, 513], [7, 4096, 3], [1 << 20]] {
      let got = try read(tar, pieces: pieces)
      #expect(Set(got.keys) == Set(expected.keys.map { "./" + $0 }))
      for (name, bytes) in expected { #expect(got["./" + name] == bytes, "\(name) with \(pieces)") }
    }
  }

  @Test("a damaged header is named, not read as data")
  func damagedHeader() throws {
    var tar = try archive(["a": [1, 2, 3]], format: "gnu")
    tar[100] ^= 0xff  // the mode field: the checksum no longer matches
    var reader = TarReader()
    #expect(throws: TarReader.Failure.self) { _ = try reader.feed(ByteBuffer(bytes: tar)) }
  }
}
