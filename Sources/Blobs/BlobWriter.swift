import Crypto
import Foundation
import NIOCore
import SchedModel

#if canImport(Glibc)
  import Glibc
#endif

/// Writes one blob's bytes into its partial file while hashing them; `commit` checks the
/// digest, syncs the file and only then moves it to its name. One owner at a time.
public final class BlobWriter {
  public let digest: ContentDigest
  let partial: String
  let final: String
  private var fd: Int32
  private var hasher = SHA256()
  /// Bytes in the partial file, those kept from an earlier attempt included.
  public private(set) var written: Int64 = 0

  init(digest: ContentDigest, partial: String, final: String, resume: Bool) throws(BlobError) {
    self.digest = digest
    self.partial = partial
    self.final = final
    let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? O_APPEND : O_TRUNC)
    fd = open(partial, flags, 0o600)
    guard fd >= 0 else {
      throw BlobError(.io, "cannot open \(partial): \(String(cString: strerror(errno)))")
    }
    if resume { try rehashKept() }
  }

  deinit { if fd >= 0 { close(fd) } }

  /// Hashes what an earlier attempt left, so the digest covers the whole blob.
  private func rehashKept() throws(BlobError) {
    guard let input = FileHandle(forReadingAtPath: partial) else {
      throw BlobError(.io, "cannot read back \(partial)")
    }
    defer { try? input.close() }
    while let chunk = try? input.read(upToCount: 1 << 20), !chunk.isEmpty {
      hasher.update(data: chunk)
      written += Int64(chunk.count)
    }
  }

  public func write(_ bytes: UnsafeRawBufferPointer) throws(BlobError) {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
      let n = Glibc.write(fd, base + offset, bytes.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        let code = errno
        throw BlobError(
          code == ENOSPC || code == EDQUOT ? .diskFull : .io,
          code == ENOSPC || code == EDQUOT
            ? "the disk holding \(partial) is full after \(written + Int64(offset)) bytes of blob \(digest.short); free space there (or collect unused images) and push again"
            : "cannot write \(partial): \(String(cString: strerror(code)))")
      }
      offset += n
    }
    hasher.update(bufferPointer: bytes)
    written += Int64(bytes.count)
  }

  public func write(_ buffer: ByteBuffer) throws(BlobError) {
    let result = buffer.withUnsafeReadableBytes { bytes in
      Result { () throws(BlobError) in try write(bytes) }
    }
    try result.get()
  }

  public func write(_ bytes: [UInt8]) throws(BlobError) {
    let result = bytes.withUnsafeBytes { buffer in
      Result { () throws(BlobError) in try write(buffer) }
    }
    try result.get()
  }

  /// Checks the digest and publishes the blob; a mismatch removes the partial file.
  public func commit() throws(BlobError) {
    let got = ContentDigest(rawValue: "sha256:" + BlobHash.hex(hasher.finalize()))!
    guard got == digest else {
      abandon()
      throw BlobError(
        .digestMismatch,
        "the \(written) bytes received as \(digest) hash to \(got): the blob was corrupted on the way or at its source; nothing was kept"
      )
    }
    guard fsync(fd) == 0 else {
      let code = errno
      abandon()
      throw BlobError(
        code == ENOSPC ? .diskFull : .io,
        "cannot sync \(partial): \(String(cString: strerror(code)))")
    }
    close(fd)
    fd = -1
    guard rename(partial, final) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(partial)
      throw BlobError(.io, "cannot move \(partial) to \(final): \(reason)")
    }
  }

  /// Closes and removes the partial file.
  public func abandon() {
    if fd >= 0 { close(fd) }
    fd = -1
    unlink(partial)
  }

  /// Closes the partial file and keeps it for a later resume.
  public func suspend() {
    if fd >= 0 { close(fd) }
    fd = -1
  }
}

/// SHA-256 as blob digests spell it.
public enum BlobHash {
  public static func digest(of bytes: [UInt8]) -> ContentDigest {
    ContentDigest(rawValue: "sha256:" + hex(SHA256.hash(data: bytes)))!
  }

  /// Bytes as lower-case hex digits (a digest, a MAC).
  public static func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// The digest and size of a file, read in 1 MiB pieces.
  public static func digest(ofFile path: String) throws(BlobError) -> (ContentDigest, Int64) {
    guard let input = FileHandle(forReadingAtPath: path) else {
      throw BlobError(.notFound, "cannot read \(path)")
    }
    defer { try? input.close() }
    var hasher = SHA256()
    var size: Int64 = 0
    while true {
      let chunk: Data
      do { chunk = try input.read(upToCount: 1 << 20) ?? Data() } catch {
        throw BlobError(.io, "cannot read \(path): \(error.localizedDescription)")
      }
      if chunk.isEmpty { break }
      hasher.update(data: chunk)
      size += Int64(chunk.count)
    }
    return (ContentDigest(rawValue: "sha256:" + hex(hasher.finalize()))!, size)
  }
}
