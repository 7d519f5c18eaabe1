import Foundation
import NIOCore
import NIOPosix
import SchedModel
import SchedWire

/// Moves blobs of the scheduler's image store on data connections of their own (`DataLink`),
/// so a layer never holds up a heartbeat. A transfer that breaks off or goes quiet throws
/// `broken`; the caller resumes from the bytes it kept.
public enum BlobClient {
  /// Fetches one blob from `offset`: `fetch_blob`, then the `blob` line and the raw bytes
  /// after it, each piece handed to `sink` in order. Returns the blob's header.
  public static func fetch(
    host: String, port: Int, hello: Hello, digest: ContentDigest, offset: Int64,
    expectCluster: String? = nil, idleTimeout: Duration = .seconds(20),
    connectTimeout: Duration = .seconds(5), tls: ClientTLS? = nil,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    sink: (ByteBuffer) throws -> Void
  ) async throws -> BlobHeader {
    try await DataLink.with(
      host: host, port: port, hello: hello, expectCluster: expectCluster,
      idleTimeout: idleTimeout, connectTimeout: connectTimeout, tls: tls, group: group
    ) { link in
      try await link.send(
        Frame(id: "fetch", .fetchBlob(FetchBlob(digest: digest, offset: offset))))
      let answer = try await link.nextFrame()
      guard case .blob(let header) = answer.message else { throw link.refused(answer, "blob") }
      guard header.digest == digest, header.offset == offset, header.length >= 0 else {
        throw TransportError(.refused, "the scheduler answered for another blob or offset")
      }
      var left = header.length
      while left > 0 {
        guard let piece = try await link.nextBytes(limit: left) else {
          throw TransportError(
            .broken,
            "the data connection closed with \(left) of \(header.length) bytes of \(digest.short) to come"
          )
        }
        try sink(piece)
        left -= Int64(piece.readableBytes)
      }
      return header
    }
  }

  /// A file to upload as a blob.
  public struct Upload: Sendable {
    public var digest: ContentDigest
    public var path: String
    public var size: Int64

    public init(digest: ContentDigest, path: String, size: Int64) {
      self.digest = digest
      self.path = path
      self.size = size
    }
  }

  /// Uploads the files the store lacks (`check_blobs` first), each as `put_blob` and its raw
  /// bytes, in the order given; returns the bytes sent. The scheduler checks each digest
  /// before it keeps anything.
  public static func upload(
    _ files: [Upload], host: String, port: Int, hello: Hello, expectCluster: String? = nil,
    tls: ClientTLS? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  ) async throws -> Int64 {
    try await DataLink.with(
      host: host, port: port, hello: hello, expectCluster: expectCluster, idleTimeout: .seconds(60),
      tls: tls, group: group
    ) { link in
      try await link.send(Frame(id: "check", .checkBlobs(CheckBlobs(digests: files.map(\.digest)))))
      let answer = try await link.nextFrame()
      guard case .missingBlobs(let missing) = answer.message else {
        throw link.refused(answer, "missing_blobs")
      }
      let wanted = Set(missing.digests)
      var sent: Int64 = 0
      for file in files where wanted.contains(file.digest) {
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
          throw TransportError(.refused, "cannot read \(file.path) to upload it")
        }
        defer { try? handle.close() }
        try await link.send(
          Frame(id: file.digest.short, .putBlob(PutBlob(digest: file.digest, size: file.size))))
        var left = file.size
        while left > 0 {
          let piece = try handle.read(upToCount: Int(min(left, 1 << 20))) ?? Data()
          guard !piece.isEmpty else {
            throw TransportError(.refused, "\(file.path) is shorter than \(file.size) bytes")
          }
          try await link.sendBytes(ByteBuffer(bytes: piece))
          left -= Int64(piece.count)
        }
        let stored = try await link.nextFrame()
        guard case .stored(let body) = stored.message, body.digest == file.digest else {
          throw link.refused(stored, "stored")
        }
        sent += file.size
      }
      return sent
    }
  }
}
