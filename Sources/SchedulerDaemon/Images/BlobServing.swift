import Blobs
import Foundation
import Logging
import NIOCore
import SchedModel
import SchedWire
import WireTransport

/// Sends a blob of the image store on an agent's data connection: the `blob` line, then the
/// bytes from the asked offset, read from the verified file in 1 MiB pieces and written as
/// the connection drains (a slow node slows its own transfer, nothing else).
enum BlobServing {
  static let chunkBytes = 1 << 20

  /// Returns false when the connection must close (a transfer broke off halfway).
  static func serve(
    _ request: FetchBlob, id: String?, from blobs: BlobDirectory, on connection: LineConnection,
    node: NodeID, logger: Logger
  ) async throws -> Bool {
    guard let size = blobs.size(of: request.digest),
      let file = FileHandle(forReadingAtPath: blobs.path(of: request.digest))
    else {
      try await connection.send(
        Frame(
          id: id,
          .error(
            ErrorReply(
              code: .notFound,
              message:
                "the image store has no blob \(request.digest.short); push the image again (schedctl image push)"
            ))))
      return true
    }
    defer { try? file.close() }
    guard request.offset >= 0, request.offset <= size else {
      try await connection.send(
        Frame(
          id: id,
          .error(
            ErrorReply(
              code: .badField,
              message:
                "offset \(request.offset) is outside blob \(request.digest.short) of \(size) bytes"
            ))))
      return true
    }
    try await connection.send(
      Frame(id: id, .blob(BlobHeader(digest: request.digest, size: size, offset: request.offset))))
    var left = size - request.offset
    do {
      try file.seek(toOffset: UInt64(request.offset))
      while left > 0 {
        let piece = try file.read(upToCount: Int(min(Int64(chunkBytes), left))) ?? Data()
        guard !piece.isEmpty else { break }
        try await connection.sendBytes(ByteBuffer(bytes: piece))
        left -= Int64(piece.count)
      }
    } catch {
      logger.notice(
        "blob transfer broke off",
        metadata: [
          "node.id": "\(node)", "blob": "\(request.digest)", "left": "\(left)",
          "error": "\(error)",
        ])
      connection.close()
      return false
    }
    guard left == 0 else {
      // The file shrank under us: the peer cannot tell the next line from blob bytes.
      logger.error("blob file shorter than its size", metadata: ["blob": "\(request.digest)"])
      connection.close()
      return false
    }
    logger.debug(
      "blob sent",
      metadata: [
        "node.id": "\(node)", "blob": "\(request.digest)",
        "bytes": "\(size - request.offset)",
      ])
    return true
  }
}
