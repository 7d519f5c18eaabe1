import Blobs
import Foundation
import NIOCore
import SchedModel
import SchedWire

/// One `put_blob` on a data connection: its raw bytes written to a partial file while they
/// are hashed, published under the digest only when every byte came and the digest matched.
/// A blob the store already holds is read off the connection and dropped. A failure (a wrong
/// digest, a full disk) is answered once all the announced bytes are read, so the connection
/// stays usable.
final class BlobUpload {
  let id: String?
  let digest: ContentDigest
  let size: Int64
  private(set) var left: Int64
  private var writer: BlobWriter?
  private var failure: SchedulerError?

  init(_ put: PutBlob, id: String?, into blobs: BlobDirectory) {
    self.id = id
    digest = put.digest
    size = put.size
    left = put.size
    guard blobs.size(of: put.digest) == nil else { return }
    do {
      writer = try blobs.writer(
        for: put.digest, name: "\(put.digest.hex).put-\(UInt64.random(in: 0...UInt64.max))")
    } catch {
      failure = ImageService.map(error)
    }
  }

  var isComplete: Bool { left == 0 }

  /// Takes the next raw bytes (never more than are left: the line decoder counts them).
  func take(_ buffer: ByteBuffer) {
    left -= Int64(buffer.readableBytes)
    guard failure == nil, let writer else { return }
    do { try writer.write(buffer) } catch {
      writer.abandon()
      self.writer = nil
      failure = ImageService.map(error)
    }
  }

  /// The answer once every byte is in: `stored`, or `error` saying what went wrong.
  func finish() -> Frame {
    if failure == nil, let writer {
      do { try writer.commit() } catch {
        writer.abandon()
        failure = ImageService.map(error)
      }
    }
    writer = nil
    if let failure {
      return Frame(
        id: id,
        .error(
          ErrorReply(
            code: failure.code == .notFound ? .notFound : .badField,
            message: "blob \(digest.short) not stored: \(failure.message)")))
    }
    return Frame(id: id, .stored(BlobStored(digest: digest, size: size)))
  }

  /// The connection ended halfway: nothing of it is kept.
  func abandon() {
    writer?.abandon()
    writer = nil
  }
}
