import AgentDaemon
import Blobs
import Foundation
import Logging
import NIOCore
import OperatorAPI
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import SchedWire
import Synchronization
import Testing
import WireTransport

@testable import SchedulerDaemon

/// An image made of bytes in files: what `schedctl image push` uploads.
struct TestImage {
  let directory = NSTemporaryDirectory() + "image-test-\(UInt64.random(in: 0...UInt64.max))"
  var files: [ContentDigest: (path: String, bytes: [UInt8])] = [:]
  var manifest: ImageManifest
  var manifestDigest: ContentDigest

  init(layers: [[UInt8]]) throws {
    let directory = self.directory
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    var files: [ContentDigest: (path: String, bytes: [UInt8])] = [:]
    func add(_ bytes: [UInt8]) -> ContentDigest {
      let digest = BlobHash.digest(of: bytes)
      let path = directory + "/" + digest.hex
      FileManager.default.createFile(atPath: path, contents: Data(bytes))
      files[digest] = (path, bytes)
      return digest
    }
    let descriptors = layers.map {
      BlobDescriptor(mediaType: ImageManifest.layerType, size: Int64($0.count), digest: add($0))
    }
    let config = Array(
      #"{"rootfs":{"diff_ids":["\#(descriptors.map(\.digest.rawValue).joined(separator: #"",""#))"]}}"#
        .utf8)
    let manifest = ImageManifest(
      config: BlobDescriptor(
        mediaType: ImageManifest.configType, size: Int64(config.count), digest: add(config)),
      layers: descriptors)
    manifestDigest = add(manifest.encoded())
    self.manifest = manifest
    self.files = files
  }

  func push(_ api: APIClient, as reference: String) async throws -> ImageView {
    for digest in try await api.missingBlobs(files.keys.sorted()) {
      try await api.uploadBlob(
        digest, file: files[digest]!.path, size: Int64(files[digest]!.bytes.count))
    }
    return try await api.tagImage(reference, manifest: manifestDigest)
  }

  func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite("Image store: push, fetch on data connections, retention")
struct ImageStoreTests {
  static func layer(_ count: Int, _ seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ seed) }
  }

  func fetch(
    _ scheduler: InProcessScheduler, _ digest: ContentDigest, offset: Int64 = 0,
    token: String = InProcessScheduler.joinToken
  ) async throws -> [UInt8] {
    var received: [UInt8] = []
    _ = try await BlobClient.fetch(
      host: "127.0.0.1", port: scheduler.clusterPort,
      hello: Hello(role: .agent, versions: ProtocolVersion.supported, node: "n1", token: token),
      digest: digest, offset: offset
    ) { piece in received += Array(piece.readableBytesView) }
    return received
  }

  @Test("a pushed image's blobs reach a node over its data connection, resumable at any offset")
  func pushThenFetch() async throws {
    let scheduler = try await InProcessScheduler.start()
    defer { Task { await scheduler.stop() } }
    let image = try TestImage(layers: [Self.layer(3_000_000, 1), Self.layer(1_000, 2)])
    defer { image.remove() }
    let view = try await image.push(scheduler.api, as: "web:2")
    #expect(view.image.manifest == image.manifestDigest)
    #expect(view.image.layers == 2)
    #expect(try await scheduler.api.missingBlobs(image.files.keys.sorted()).isEmpty)
    #expect(try await scheduler.api.images().map(\.image.reference) == ["web:2"])

    let big = image.manifest.layers[0].digest
    #expect(try await fetch(scheduler, big) == image.files[big]!.bytes)
    #expect(
      try await fetch(scheduler, big, offset: 2_999_000)
        == Array(image.files[big]!.bytes[2_999_000...]))

    let unknown = BlobHash.digest(of: [9, 9, 9])
    do {
      _ = try await fetch(scheduler, unknown)
      Issue.record("a blob the store lacks was served")
    } catch let error as TransportError {
      #expect(error.code == .refused)
      #expect(error.message.contains("no blob"))
    }
    do {
      _ = try await fetch(scheduler, big, token: "wrong")
      Issue.record("a blob was served to a stranger")
    } catch let error as TransportError {
      #expect(error.code == .refused)
      #expect(error.message.contains("join token refused"))
    }
  }

  @Test("a transfer cut twice on a real socket resumes where it broke off; the blob is whole")
  func cutTransferResumes() async throws {
    let scheduler = try await InProcessScheduler.start()
    defer { Task { await scheduler.stop() } }
    let image = try TestImage(layers: [Self.layer(3_000_000, 5)])
    defer { image.remove() }
    _ = try await image.push(scheduler.api, as: "web:3")
    let proxy = try CuttingProxy(targetPort: scheduler.clusterPort, cuts: [1_000_000, 700_000])
    defer { proxy.stop() }
    let root = NSTemporaryDirectory() + "agent-cache-\(UInt64.random(in: 0...UInt64.max))"
    defer { try? FileManager.default.removeItem(atPath: root) }
    var logger = Logger(label: "test.cache")
    logger.logLevel = .critical
    let cache = ImageCache(
      blobs: try BlobDirectory(root: root),
      source: SchedulerBlobSource(
        host: "127.0.0.1", port: proxy.port, node: "n1",
        access: .insecure(secret: InProcessScheduler.joinToken, role: .agent, name: "n1"),
        cluster: PinnedCluster(known: nil, joinNew: false, who: "agent") { _ in }),
      logger: logger)
    let layer = image.manifest.layers[0]
    let path = try await cache.ensure(layer.digest, size: layer.size)
    #expect(FileManager.default.contents(atPath: path) == Data(image.files[layer.digest]!.bytes))
    #expect(await cache.fetched(layer.digest) == layer.size)
    #expect(cache.blobs.partials().isEmpty)
    // Two connections cut, the third finished what they left.
    #expect(proxy.accepted == 3)
  }

  @Test("an upload whose bytes do not match its digest is refused and nothing is kept")
  func corruptedUploadRefused() async throws {
    let scheduler = try await InProcessScheduler.start()
    defer { Task { await scheduler.stop() } }
    let image = try TestImage(layers: [Self.layer(100_000, 3)])
    defer { image.remove() }
    let layer = image.manifest.layers[0]
    var bad = image.files[layer.digest]!.bytes
    bad[500] ^= 1
    let path = image.directory + "/bad"
    FileManager.default.createFile(atPath: path, contents: Data(bad))
    do {
      try await scheduler.api.uploadBlob(layer.digest, file: path, size: layer.size)
      Issue.record("a corrupted upload was taken")
    } catch {
      #expect(error.code == .badRequest)
      #expect(error.message.contains("hash to"))
    }
    #expect(try await scheduler.api.missingBlobs([layer.digest]) == [layer.digest])
    #expect(scheduler.scheduler.images.blobs.partials().isEmpty)
  }

  @Test("a manifest is named only when every blob it lists is stored, at its size")
  func manifestNeedsItsBlobs() async throws {
    let scheduler = try await InProcessScheduler.start()
    defer { Task { await scheduler.stop() } }
    let image = try TestImage(layers: [Self.layer(5_000, 4)])
    defer { image.remove() }
    let manifest = image.files[image.manifestDigest]!
    try await scheduler.api.uploadBlob(
      image.manifestDigest, file: manifest.path, size: Int64(manifest.bytes.count))
    do {
      _ = try await scheduler.api.tagImage("web:1", manifest: image.manifestDigest)
      Issue.record("an image with missing layers was named")
    } catch {
      #expect(error.message.contains("does not hold"))
    }
    do {
      _ = try await scheduler.api.tagImage("Web:1", manifest: image.manifestDigest)
      Issue.record("a bad reference was taken")
    } catch {
      #expect(error.code == .badRequest)
    }
    #expect(try await scheduler.api.images().isEmpty)
  }

  @Test("retention keeps what sets run and each repository's newest pushes, and frees the rest")
  func retention() async throws {
    let root = NSTemporaryDirectory() + "retention-\(UInt64.random(in: 0...UInt64.max))"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let clock = TestClock()
    var logger = Logger(label: "test.images")
    logger.logLevel = .critical
    let service = try await ImageService(
      blobs: try BlobDirectory(root: root), store: MemoryStore(),
      now: { clock.now }, keepRecent: 2, logger: logger)
    let base = Self.layer(50_000, 0)
    var images: [TestImage] = []
    for version in 1...4 {
      let image = try TestImage(layers: [base, Self.layer(1_000, version)])
      defer { image.remove() }
      for (digest, file) in image.files {
        _ = try await service.ingest(
          digest,
          body: AsyncStream {
            $0.yield(ByteBuffer(bytes: file.bytes)); $0.finish()
          },
          declaredLength: Int64(file.bytes.count))
      }
      clock.advance(60)
      _ = try await service.tag("web:\(version)", manifest: image.manifestDigest, actor: "test")
      images.append(image)
    }
    // Within the upload grace nothing is removed from disk, though web:2 is forgotten.
    var collected = await service.collect(inUse: ["web:1"], actor: "test")
    #expect(collected.images == ["web:2"])
    #expect(collected.blobs == 0)
    #expect(await service.list().map(\.reference) == ["web:1", "web:3", "web:4"])
    clock.advance(7200)
    collected = await service.collect(inUse: ["web:1"], actor: "test")
    // web:2's own layer, config and manifest go; the shared base stays.
    #expect(collected.blobs == 3)
    let dropped = images[1]
    #expect(service.blobs.size(of: dropped.manifestDigest) == nil)
    #expect(service.blobs.size(of: BlobHash.digest(of: base)) == 50_000)
    for kept in [images[0], images[2], images[3]] {
      for digest in kept.files.keys { #expect(service.blobs.size(of: digest) != nil) }
    }
  }
}

/// A test clock shared with the service's `now`.
final class TestClock: Sendable {
  private let date = Mutex(Date())
  var now: Date { date.withLock { $0 } }
  func advance(_ seconds: TimeInterval) { date.withLock { $0 += seconds } }
}
