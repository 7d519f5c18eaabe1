import Blobs
import Foundation
import NIOCore
import SchedModel
import Testing

@Suite("Blob directory: nothing unverified is ever visible")
struct BlobDirectoryTests {
  let root = NSTemporaryDirectory() + "blobs-test-\(UInt64.random(in: 0...UInt64.max))"

  func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
  }

  @Test("a blob whose bytes match its digest is published under it")
  func commitPublishes() throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let blobs = try BlobDirectory(root: root)
    let data = bytes(300_000)
    let digest = BlobHash.digest(of: data)
    let writer = try blobs.writer(for: digest, name: "t1")
    try writer.write(ByteBuffer(bytes: data[..<100_000]))
    #expect(blobs.size(of: digest) == nil)
    try writer.write(Array(data[100_000...]))
    try writer.commit()
    #expect(blobs.size(of: digest) == 300_000)
    #expect(FileManager.default.contents(atPath: blobs.path(of: digest)) == Data(data))
    #expect(blobs.partials().isEmpty)
  }

  @Test("bytes that do not hash to the digest are refused and nothing is kept")
  func mismatchKeepsNothing() throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let blobs = try BlobDirectory(root: root)
    let good = bytes(50_000)
    var bad = good
    bad[25_000] ^= 0x01
    let digest = BlobHash.digest(of: good)
    let writer = try blobs.writer(for: digest, name: "t2")
    try writer.write(bad)
    do {
      try writer.commit()
      Issue.record("a corrupted blob was published")
    } catch { #expect(error.code == .digestMismatch) }
    #expect(blobs.size(of: digest) == nil)
    #expect(blobs.partials().isEmpty)
    #expect(blobs.blobs().isEmpty)
  }

  @Test("a resumed transfer hashes the kept bytes again and completes the blob")
  func resumeRehashes() throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let blobs = try BlobDirectory(root: root)
    let data = bytes(1_000_000, seed: 3)
    let digest = BlobHash.digest(of: data)
    let first = try blobs.writer(for: digest, name: "resume", resume: true)
    try first.write(Array(data[..<400_000]))
    first.suspend()
    #expect(blobs.partialSize("resume") == 400_000)
    let second = try blobs.writer(for: digest, name: "resume", resume: true)
    #expect(second.written == 400_000)
    try second.write(Array(data[400_000...]))
    try second.commit()
    #expect(blobs.size(of: digest) == 1_000_000)
  }

  @Test("small blobs are stored under their own digest and read back within a limit")
  func storeAndRead() throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let blobs = try BlobDirectory(root: root)
    let manifest = Array(#"{"schemaVersion":2}"#.utf8)
    let digest = try blobs.store(manifest)
    #expect(digest == BlobHash.digest(of: manifest))
    #expect(try blobs.read(digest, limit: 100) == manifest)
    #expect(throws: BlobError.self) { try blobs.read(digest, limit: 5) }
    let missing = BlobHash.digest(of: [1, 2, 3])
    do {
      _ = try blobs.read(missing, limit: 100)
      Issue.record("a missing blob was read")
    } catch { #expect(error.code == .notFound) }
  }

  @Test("a file's digest is the SHA-256 that sha256sum prints")
  func fileDigestMatchesSha256sum() throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let path = root + "/f"
    FileManager.default.createFile(atPath: path, contents: Data(bytes(3_000_000)))
    let (digest, size) = try BlobHash.digest(ofFile: path)
    #expect(size == 3_000_000)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(digest.rawValue == "sha256:" + output.prefix(64))
  }
}
