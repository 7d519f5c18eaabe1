import AgentCore
import AgentDaemon
import Blobs
import Foundation
import Logging
import NIOCore
import SchedModel
import SchedTestSupport
import SchedWire
import Synchronization
import Testing
import WireTransport

/// A blob source of bytes in memory that can break off a transfer, or corrupt it.
final class ScriptedBlobSource: BlobSource {
  struct Script {
    var blobs: [ContentDigest: [UInt8]] = [:]
    /// Transfers that break off after this many bytes, one per fetch, first ones first.
    var cuts: [Int] = []
    /// Flip a byte of every transfer (a store whose file rotted).
    var corrupt = false
    var offsets: [Int64] = []
  }

  let script: Mutex<Script>
  init(_ script: Script) { self.script = Mutex(script) }

  var offsets: [Int64] { script.withLock { $0.offsets } }

  func fetch(_ digest: ContentDigest, offset: Int64, sink: (ByteBuffer) throws -> Void)
    async throws -> BlobHeader
  {
    let (bytes, cut, corrupt) = script.withLock { s -> ([UInt8]?, Int?, Bool) in
      s.offsets.append(offset)
      return (s.blobs[digest], s.cuts.isEmpty ? nil : s.cuts.removeFirst(), s.corrupt)
    }
    guard var bytes else { throw TransportError(.refused, "the image store has no blob") }
    if corrupt { bytes[bytes.count / 2] ^= 0x20 }
    let header = BlobHeader(digest: digest, size: Int64(bytes.count), offset: offset)
    var at = Int(offset)
    while at < bytes.count {
      let end = min(at + 65_536, bytes.count)
      if let cut, end - Int(offset) > cut {
        try sink(ByteBuffer(bytes: bytes[at..<(Int(offset) + cut)]))
        throw TransportError(.broken, "cut after \(cut) bytes")
      }
      try sink(ByteBuffer(bytes: bytes[at..<end]))
      at = end
    }
    return header
  }
}

@Suite("Image cache: blobs reach the engine whole and verified")
struct ImageCacheTests {
  let root = NSTemporaryDirectory() + "cache-test-\(UInt64.random(in: 0...UInt64.max))"
  var logger: Logger {
    var logger = Logger(label: "test.images")
    logger.logLevel = .critical
    return logger
  }

  static func bytes(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 13) }
  }

  @Test("a transfer cut halfway resumes from the bytes kept, and the blob is whole")
  func cutTransferResumes() async throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let data = Self.bytes(3_000_000)
    let digest = BlobHash.digest(of: data)
    let source = ScriptedBlobSource(.init(blobs: [digest: data], cuts: [1_500_000]))
    let cache = ImageCache(blobs: try BlobDirectory(root: root), source: source, logger: logger)
    let path = try await cache.ensure(digest, size: Int64(data.count))
    #expect(source.offsets == [0, 1_500_000])
    #expect(FileManager.default.contents(atPath: path) == Data(data))
    #expect(await cache.fetched(digest) == 3_000_000)
    #expect(cache.blobs.partials().isEmpty)
  }

  @Test("a corrupted blob never becomes visible: two failed digest checks and nothing kept")
  func corruptedBlobIsRefused() async throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let data = Self.bytes(200_000)
    let digest = BlobHash.digest(of: data)
    let source = ScriptedBlobSource(.init(blobs: [digest: data], corrupt: true))
    let cache = ImageCache(blobs: try BlobDirectory(root: root), source: source, logger: logger)
    do {
      _ = try await cache.ensure(digest, size: Int64(data.count))
      Issue.record("a corrupted blob was accepted")
    } catch let error as AgentError {
      #expect(error.code == .image)
      #expect(error.message.contains("digest check"))
    }
    #expect(source.offsets == [0, 0])
    #expect(cache.blobs.size(of: digest) == nil)
    #expect(cache.blobs.partials().isEmpty)
  }

  @Test("a blob the store lacks fails at once with the store's reason")
  func missingBlobFails() async throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let digest = BlobHash.digest(of: [1, 2, 3])
    let source = ScriptedBlobSource(.init())
    let cache = ImageCache(blobs: try BlobDirectory(root: root), source: source, logger: logger)
    await #expect(throws: AgentError.self) { _ = try await cache.ensure(digest, size: 3) }
    #expect(source.offsets == [0])
    #expect(cache.blobs.partials().isEmpty)
  }

  @Test("many asking for one blob at once fetch it once")
  func oneFetchForManyAskers() async throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let data = Self.bytes(2_000_000)
    let digest = BlobHash.digest(of: data)
    let source = ScriptedBlobSource(.init(blobs: [digest: data]))
    let cache = ImageCache(blobs: try BlobDirectory(root: root), source: source, logger: logger)
    try await withThrowingTaskGroup(of: String.self) { group in
      for _ in 0..<5 { group.addTask { try await cache.ensure(digest, size: nil) } }
      for try await path in group { #expect(path == cache.blobs.path(of: digest)) }
    }
    #expect(source.offsets == [0])
  }

  /// A one-layer image as the store holds it: its manifest, the source serving its blobs, the
  /// reference an engine pulls it by from the endpoint, and the engine that can pull it.
  struct StoredOneLayer {
    let manifest: ImageManifest
    let digest: ContentDigest
    let source: ScriptedBlobSource
    let pulled: String
    let runtime: FakeRuntime

    init(layerBytes: Int) {
      let layer = ImageCacheTests.bytes(layerBytes)
      let config = Array(#"{"rootfs":{"diff_ids":[]}}"#.utf8)
      manifest = ImageManifest(
        config: BlobDescriptor(
          mediaType: ImageManifest.configType, size: Int64(config.count),
          digest: BlobHash.digest(of: config)),
        layers: [
          BlobDescriptor(
            mediaType: ImageManifest.layerType, size: Int64(layerBytes),
            digest: BlobHash.digest(of: layer))
        ])
      let bytes = manifest.encoded()
      digest = BlobHash.digest(of: bytes)
      source = ScriptedBlobSource(
        .init(blobs: [
          digest: bytes, manifest.config.digest: config, manifest.layers[0].digest: layer,
        ]))
      pulled = "127.0.0.1:5999/turnout/image@\(digest.rawValue)"
      runtime = FakeRuntime(registry: [pulled], ids: [pulled: manifest.config.digest.rawValue])
    }

    func imageSource(_ reference: String) -> ImageSource {
      ImageSource(
        reference: reference, manifest: digest, config: manifest.config.digest,
        size: manifest.size)
    }
  }

  @Test("the engine pulls an image it lacks from the endpoint by digest, then it is named")
  func pullerPullsThenTags() async throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let image = StoredOneLayer(layerBytes: 10_000)
    let (manifest, manifestDigest, pulled, runtime) = (
      image.manifest, image.digest, image.pulled, image.runtime
    )
    let cache = ImageCache(
      blobs: try BlobDirectory(root: root), source: image.source, logger: logger)
    let puller = ImagePuller(
      runtime: runtime, cache: cache, repository: "127.0.0.1:5999/turnout/image", logger: logger)
    await puller.update([image.imageSource("web:2")])
    try await puller.prepare("web:2")
    #expect(await runtime.pulls.map(\.reference) == [pulled])
    #expect(try await runtime.imageID("web:2") == manifest.config.digest.rawValue)
    let report = await puller.report()
    #expect(report.map(\.state) == [.done])
    #expect(report.first?.layers == 1)
    // The engine's copy is named; the manifest is dropped from the cache once pulled.
    #expect(cache.blobs.size(of: manifestDigest) == nil)
    // A reference the store does not hold is left to the engine.
    try await puller.prepare("other:1")
    #expect(await runtime.pulls.count == 1)
  }

  @Test("a test run on a node without the candidate's slots gets its image from the store first")
  func testRunPullsItsImage() async throws {
    defer { try? FileManager.default.removeItem(atPath: root) }
    let image = StoredOneLayer(layerBytes: 4_000)
    let (manifest, pulled, runtime) = (image.manifest, image.pulled, image.runtime)
    let cache = ImageCache(
      blobs: try BlobDirectory(root: root), source: image.source, logger: logger)
    await runtime.whenStarted { _ in (exitCode: 0, output: "ok\n") }
    let puller = ImagePuller(
      runtime: runtime, cache: cache, repository: "127.0.0.1:5999/turnout/image", logger: logger)
    let slots = SlotManager(
      node: NodeID("n2"), runtime: runtime, prober: ScriptedProber(),
      permissions: NodePermissions(), publishAddress: "127.0.0.1", puller: puller, logger: logger)
    var request = RunTest(
      run: "v1-unit", app: "web", image: manifest.config.digest.rawValue,
      test: TestSpec(name: "unit", command: ["true"]), cpuMillis: 100, memoryBytes: 32 << 20)
    request.images = [image.imageSource("web:2")]
    let ack = await slots.execute(.runTest(request))
    #expect(ack.ok, "\(ack.message ?? "")")
    #expect(await runtime.pulls.map(\.reference) == [pulled])
    // Without the store's sources the engine's own copy is all there is: the run says why.
    let bare = RunTest(
      run: "v2-unit", app: "web", image: "sha256:" + String(repeating: "9", count: 64),
      test: TestSpec(name: "unit", command: ["true"]), cpuMillis: 100, memoryBytes: 32 << 20)
    let refused = await slots.execute(.runTest(bare))
    #expect(!refused.ok)
  }
}
