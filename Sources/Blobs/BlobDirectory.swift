import Foundation
import SchedModel

#if canImport(Glibc)
  import Glibc
#endif

/// A directory of blobs named by digest: `ROOT/sha256/HEX` holds complete, verified blobs
/// only; bytes on their way in sit in `ROOT/partial/` until their digest is checked, so a
/// reader never sees half a blob or a wrong one.
public struct BlobDirectory: Sendable {
  public let root: String

  /// Opens (and creates, mode 0700) the directory.
  public init(root: String) throws(BlobError) {
    self.root = root
    for directory in [root, "\(root)/sha256", "\(root)/partial"] {
      do {
        try FileManager.default.createDirectory(
          atPath: directory, withIntermediateDirectories: true,
          attributes: [.posixPermissions: 0o700])
      } catch {
        throw BlobError(
          .io, "cannot create the blob directory \(directory): \(error.localizedDescription)")
      }
    }
  }

  public func path(of digest: ContentDigest) -> String { "\(root)/sha256/\(digest.hex)" }

  /// The size of a complete blob, nil when there is none.
  public func size(of digest: ContentDigest) -> Int64? {
    var info = stat()
    guard stat(path(of: digest), &info) == 0 else { return nil }
    return Int64(info.st_size)
  }

  /// Bytes already received of a resumable transfer named `name`.
  public func partialSize(_ name: String) -> Int64 {
    var info = stat()
    guard stat(partialPath(name), &info) == 0 else { return 0 }
    return Int64(info.st_size)
  }

  func partialPath(_ name: String) -> String { "\(root)/partial/\(name)" }

  /// A writer of blob `digest` into the partial file `name`. With `resume`, the bytes already
  /// in that file are kept (and hashed again) and writing goes on after them.
  public func writer(for digest: ContentDigest, name: String, resume: Bool = false)
    throws(BlobError) -> BlobWriter
  {
    try BlobWriter(
      digest: digest, partial: partialPath(name), final: path(of: digest), resume: resume)
  }

  /// Drops a partial transfer.
  public func discardPartial(_ name: String) { unlink(partialPath(name)) }

  public func remove(_ digest: ContentDigest) { unlink(path(of: digest)) }

  /// The complete blobs, with their sizes and the time each was last written.
  public func blobs() -> [(digest: ContentDigest, size: Int64, modified: Date)] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/sha256")) ?? []
    return names.compactMap { name in
      guard let digest = ContentDigest(rawValue: "sha256:\(name)") else { return nil }
      var info = stat()
      guard stat(path(of: digest), &info) == 0 else { return nil }
      return (
        digest, Int64(info.st_size),
        Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))
      )
    }
  }

  /// Partial files and how long ago each was last written to.
  public func partials() -> [(name: String, modified: Date)] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/partial")) ?? []
    return names.compactMap { name in
      var info = stat()
      guard stat(partialPath(name), &info) == 0 else { return nil }
      return (name, Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)))
    }
  }

  /// The whole of a small blob (a manifest, a config), read after checking its size.
  public func read(_ digest: ContentDigest, limit: Int) throws(BlobError) -> [UInt8] {
    guard let size = size(of: digest) else {
      throw BlobError(.notFound, "blob \(digest) is not in \(root)")
    }
    guard size <= limit else {
      throw BlobError(.tooLarge, "blob \(digest) is \(size) bytes, more than \(limit) expected")
    }
    guard let data = FileManager.default.contents(atPath: path(of: digest)) else {
      throw BlobError(.io, "cannot read blob \(digest) from \(root)")
    }
    return Array(data)
  }

  /// Stores small bytes (a manifest) under their own digest, verified like any other blob.
  @discardableResult
  public func store(_ bytes: [UInt8]) throws(BlobError) -> ContentDigest {
    let digest = BlobHash.digest(of: bytes)
    if size(of: digest) == Int64(bytes.count) { return digest }
    let writer = try writer(for: digest, name: "\(digest.hex).\(UInt64.random(in: 0...UInt64.max))")
    do throws(BlobError) {
      try writer.write(bytes)
      try writer.commit()
    } catch {
      writer.abandon()
      throw error
    }
    return digest
  }
}
