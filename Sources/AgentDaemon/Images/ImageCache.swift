import Blobs
import Foundation
import Logging
import NIOCore
import SchedModel
import SchedWire
import Synchronization
import WireTransport

/// Where blobs come from: the scheduler's image store over data connections in production, a
/// table of bytes in tests.
public protocol BlobSource: Sendable {
  /// Streams the bytes of `digest` from `offset` to `sink`, in order; returns the blob's
  /// header. Throws `TransportError` `.broken` when the transfer stops halfway (resumable),
  /// `.refused` when the source will not give it.
  func fetch(_ digest: ContentDigest, offset: Int64, sink: (ByteBuffer) throws -> Void)
    async throws -> BlobHeader
}

/// The scheduler's image store, reached on data connections of the cluster port as this
/// node (its certificate over TLS).
public struct SchedulerBlobSource: BlobSource {
  let host: String
  let port: Int
  let node: NodeID
  let access: ClusterAccess
  let cluster: PinnedCluster

  public init(host: String, port: Int, node: NodeID, access: ClusterAccess, cluster: PinnedCluster)
  {
    self.host = host
    self.port = port
    self.node = node
    self.access = access
    self.cluster = cluster
  }

  /// The hello and TLS of one data connection.
  func link() throws -> (hello: Hello, tls: ClientTLS?) {
    let dial = try access.dataDial()
    return (
      Hello(role: .agent, versions: ProtocolVersion.supported, node: node, token: dial.token),
      dial.tls
    )
  }

  public func fetch(_ digest: ContentDigest, offset: Int64, sink: (ByteBuffer) throws -> Void)
    async throws -> BlobHeader
  {
    let (hello, tls) = try link()
    return try await BlobClient.fetch(
      host: host, port: port, hello: hello, digest: digest, offset: offset,
      expectCluster: cluster.known, tls: tls, sink: sink)
  }
}

/// The agent's blobs on their way to its engine: fetched once however many ask, resumed
/// from the bytes kept when a transfer breaks off, and checked against their digest before
/// the engine may read them. Blobs are dropped once the engine holds the image.
public actor ImageCache {
  public nonisolated let blobs: BlobDirectory
  let source: any BlobSource
  let logger: Logger
  /// Attempts of one blob before giving up (a transfer broken off resumes each time).
  let attempts: Int
  private var inFlight: [ContentDigest: Task<String, any Error>] = [:]
  /// Bytes fetched per blob (those kept from an earlier attempt included).
  private var counters: [ContentDigest: ByteCounter] = [:]
  /// Blobs the engine may ask for, with their sizes: those of the images being pulled.
  private var allowed: [ContentDigest: Int64] = [:]
  /// Why a blob could not be had, since the last pull that needed it began.
  private var failures: [ContentDigest: String] = [:]
  /// How long each fetched blob took to arrive and be checked.
  private var durations: [ContentDigest: Duration] = [:]

  public init(blobs: BlobDirectory, source: any BlobSource, attempts: Int = 6, logger: Logger) {
    self.blobs = blobs
    self.source = source
    self.attempts = attempts
    self.logger = logger
  }

  /// Lets the engine fetch the blobs of `manifest` (and the manifest itself).
  public func allow(_ manifest: ImageManifest, digest: ContentDigest, size: Int64) {
    allowed[digest] = size
    for blob in manifest.blobs {
      allowed[blob.digest] = blob.size
      failures[blob.digest] = nil
    }
  }

  /// Why one of `digests` could not be had, if one could not.
  public func failure(among digests: [ContentDigest]) -> String? {
    digests.lazy.compactMap { self.failures[$0] }.first
  }

  /// The size of an allowed blob; nil for one no pull asked for.
  public func allowedSize(_ digest: ContentDigest) -> Int64? { allowed[digest] }

  /// The path of the verified blob, fetching it first when needed.
  public func ensure(_ digest: ContentDigest, size: Int64?) async throws -> String {
    if blobs.size(of: digest) != nil { return blobs.path(of: digest) }
    if let running = inFlight[digest] { return try await running.value }
    let counter = counters[digest] ?? ByteCounter()
    counters[digest] = counter
    let task = Task { [blobs, source, attempts, logger] in
      try await Self.download(
        digest, size: size, into: blobs, from: source, attempts: attempts, counter: counter,
        logger: logger)
    }
    inFlight[digest] = task
    defer { inFlight[digest] = nil }
    let started = ContinuousClock.now
    do {
      let path = try await task.value
      durations[digest] = ContinuousClock.now - started
      return path
    } catch {
      failures[digest] = (error as? AgentError)?.message ?? "\(error)"
      throw error
    }
  }

  /// The longest time one of `digests` took to arrive (they arrive side by side).
  public func longestFetch(among digests: [ContentDigest]) -> Duration {
    digests.compactMap { durations[$0] }.max() ?? .zero
  }

  /// Bytes fetched so far of `digest`, nil when it was never asked for.
  public func fetched(_ digest: ContentDigest) -> Int64? { counters[digest]?.value }

  /// Drops blobs (and their counters) once an engine holds them.
  public func drop(_ digests: [ContentDigest]) {
    for digest in digests where inFlight[digest] == nil {
      blobs.remove(digest)
      counters[digest] = nil
      durations[digest] = nil
      allowed[digest] = nil
    }
  }

  static func download(
    _ digest: ContentDigest, size: Int64?, into blobs: BlobDirectory, from source: any BlobSource,
    attempts: Int, counter: ByteCounter, logger: Logger
  ) async throws -> String {
    var attempt = 0
    var mismatches = 0
    while true {
      attempt += 1
      let writer = try blobs.writer(for: digest, name: String(digest.hex), resume: true)
      counter.set(writer.written)
      let resumedAt = writer.written
      do {
        let header = try await source.fetch(digest, offset: writer.written) { piece in
          try writer.write(piece)
          counter.add(Int64(piece.readableBytes))
        }
        if let size, header.size != size {
          writer.abandon()
          throw AgentError(
            .image,
            "blob \(digest.short) is \(header.size) bytes in the scheduler's store but \(size) in its manifest; push the image again"
          )
        }
        try writer.commit()
        if resumedAt > 0 {
          logger.info(
            "blob fetched after resuming",
            metadata: ["blob": "\(digest)", "resumed.at": "\(resumedAt)"])
        }
        return blobs.path(of: digest)
      } catch let error as BlobError where error.code == .digestMismatch {
        // commit removed the partial file: the next attempt starts from zero.
        mismatches += 1
        logger.error("blob failed its digest check", metadata: ["blob": "\(digest)"])
        guard mismatches < 2 else {
          throw AgentError(
            .image,
            "blob \(digest.short) from the scheduler failed its digest check twice (corrupted in the scheduler's image store?); nothing of it reached the engine. Push the image again."
          )
        }
      } catch let error as TransportError where error.code == .broken || error.code == .connect {
        writer.suspend()
        guard attempt < attempts else {
          throw AgentError(
            .image,
            "fetching blob \(digest.short) failed \(attempt) times, last: \(error.message)")
        }
        logger.notice(
          "blob transfer broke off; resuming",
          metadata: [
            "blob": "\(digest)", "kept": "\(writer.written)", "error": "\(error.message)",
          ])
        try await Task.sleep(for: .milliseconds(250 * attempt))
      } catch let error as TransportError {
        writer.abandon()
        throw AgentError(
          .image, "the scheduler will not give blob \(digest.short): \(error.message)")
      } catch let error as BlobError {
        writer.abandon()
        throw AgentError(.image, "keeping blob \(digest.short) on this node: \(error.message)")
      }
    }
  }
}

/// A count of bytes shared between a transfer and whoever reports its progress.
public final class ByteCounter: Sendable {
  private let count = Mutex<Int64>(0)
  public init() {}
  public var value: Int64 { count.withLock { $0 } }
  func set(_ value: Int64) { count.withLock { $0 = value } }
  func add(_ delta: Int64) { count.withLock { $0 += delta } }
}
