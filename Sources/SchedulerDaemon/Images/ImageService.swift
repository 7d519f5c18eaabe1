import Blobs
import Foundation
import Logging
import NIOCore
import SchedModel
import SchedStore

/// The cluster's image store: blobs (layers, configs, manifests) as files named by digest,
/// references (`web:2`) in the state store. Operators push into it; agents fetch from it on
/// their data connections. One owner of the references; blob files are written by whoever
/// uploads them (each upload has its own partial file) and become visible only once verified.
public actor ImageService {
  public nonisolated let blobs: BlobDirectory
  let store: any StateStore
  let now: @Sendable () -> Date
  let logger: Logger
  /// How many of each repository's newest pushes stay even when no set uses them.
  public let keepRecent: Int
  /// Blobs younger than this are never collected: a push in progress uploads its blobs
  /// before it tags them.
  let uploadGrace: TimeInterval = 3600
  private var images: [String: StoredImage]
  /// Registry credentials by registry; passwords leave only in assignments to agents.
  private var credentials: [String: RegistryCredential]

  init(
    blobs: BlobDirectory, store: any StateStore, now: @escaping @Sendable () -> Date,
    keepRecent: Int, logger: Logger
  ) async throws(StoreError) {
    self.blobs = blobs
    self.store = store
    self.now = now
    self.keepRecent = keepRecent
    self.logger = logger
    images = Dictionary(
      try await store.images().map { ($0.reference, $0) }, uniquingKeysWith: { $1 })
    credentials = Dictionary(
      try await store.registryCredentials().map { ($0.registry, $0) }, uniquingKeysWith: { $1 })
  }

  // MARK: registries

  /// The registries credentials are held for, with their user names.
  public func registries() -> [(registry: String, username: String)] {
    credentials.values.sorted { $0.registry < $1.registry }.map { ($0.registry, $0.username) }
  }

  /// The credentials agents need to pull `references` (those naming a registry held here).
  public func credentials(for references: some Sequence<String>) -> [RegistryCredential] {
    Set(references.compactMap { ImageReference.registry(of: $0) }).sorted()
      .compactMap { credentials[$0] }
  }

  /// Stores (or with nil, forgets) the credential of `registry`.
  public func setCredential(_ credential: RegistryCredential?, registry: String, actor: String)
    async throws(SchedulerError)
  {
    if let problem = ImageReference.domainProblem(Substring(registry)) {
      throw SchedulerError(.invalid, problem)
    }
    guard credential != nil || credentials[registry] != nil else {
      throw SchedulerError(.notFound, "no credentials are held for registry \(registry)")
    }
    let event = ClusterEvent(
      at: now(), actor: actor, kind: credential == nil ? "registry.logout" : "registry.login",
      subject: registry,
      detail: credential.map { "user \($0.username)" } ?? "credentials removed")
    do {
      try await store.setRegistryCredential(credential, registry: registry, events: [event])
    } catch {
      throw SchedulerError(.store, "cannot record credentials of \(registry): \(error.message)")
    }
    credentials[registry] = credential
  }

  public func list() -> [StoredImage] {
    images.values.sorted { ($0.reference) < ($1.reference) }
  }

  /// Where nodes fetch the image `reference` names, when the store holds it.
  public func source(for reference: String) -> ImageSource? { images[reference]?.source }

  /// The blobs of `digests` the store lacks.
  public nonisolated func missing(_ digests: [ContentDigest]) -> [ContentDigest] {
    digests.filter { blobs.size(of: $0) == nil }
  }

  /// Stores an uploaded blob, checking its digest before anyone can read it. On any failure
  /// nothing of it is kept and what the store had before is untouched.
  public nonisolated func ingest<Body: AsyncSequence & Sendable>(
    _ digest: ContentDigest, body: Body, declaredLength: Int64?
  ) async throws(SchedulerError) -> Int64 where Body.Element == ByteBuffer {
    if let size = blobs.size(of: digest) { return size }
    let writer: BlobWriter
    do {
      writer = try blobs.writer(
        for: digest, name: "\(digest.hex).upload-\(UInt64.random(in: 0...UInt64.max))")
    } catch { throw Self.map(error) }
    do {
      for try await chunk in body {
        try writer.write(chunk)
      }
      if let declaredLength, writer.written != declaredLength {
        throw BlobError(
          .io,
          "the upload of \(digest.short) ended after \(writer.written) of \(declaredLength) bytes; push again"
        )
      }
      try writer.commit()
    } catch let error as BlobError {
      writer.abandon()
      throw Self.map(error)
    } catch {
      writer.abandon()
      throw SchedulerError(.invalid, "the upload of \(digest.short) broke off: \(error)")
    }
    return writer.written
  }

  /// Points `reference` at the manifest `manifest`, which must be stored with every blob it
  /// names. A reference pushed again moves to the new manifest.
  public func tag(_ reference: String, manifest: ContentDigest, actor: String)
    async throws(SchedulerError) -> StoredImage
  {
    if let problem = ImageReference.problem(reference) {
      throw SchedulerError(.invalid, problem)
    }
    let parsed: ImageManifest
    do {
      parsed = try ImageManifest.decode(blobs.read(manifest, limit: ImageManifest.maxBytes))
    } catch let error as BlobError {
      throw SchedulerError(
        error.code == .notFound ? .notFound : .invalid,
        "manifest \(manifest.short): \(error.message); upload it before naming it")
    } catch {
      throw SchedulerError(.invalid, "manifest \(manifest.short): \(error)")
    }
    for blob in parsed.blobs {
      guard let size = blobs.size(of: blob.digest) else {
        throw SchedulerError(
          .notFound,
          "the manifest names blob \(blob.digest.short), which the store does not hold; upload it first"
        )
      }
      guard size == blob.size else {
        throw SchedulerError(
          .invalid,
          "the manifest gives blob \(blob.digest.short) \(blob.size) bytes; the store holds \(size)"
        )
      }
    }
    let image = StoredImage(
      reference: reference, manifest: manifest, config: parsed.config.digest,
      layers: parsed.layers.count, size: parsed.size, pushedAt: now(), pushedBy: actor)
    let event = ClusterEvent(
      at: image.pushedAt, actor: actor, kind: "image.pushed", subject: reference,
      detail:
        "\(manifest.short), \(parsed.layers.count) layer(s), \(ByteCount.text(parsed.size))")
    do { try await store.saveImage(image, events: [event]) } catch {
      throw SchedulerError(.store, "cannot record image \(reference): \(error.message)")
    }
    images[reference] = image
    logger.info(
      "image pushed",
      metadata: ["image": "\(reference)", "manifest": "\(manifest)", "bytes": "\(parsed.size)"])
    return image
  }

  /// Forgets `reference`; refused while a set runs it.
  public func remove(_ reference: String, inUse: Set<String>, actor: String)
    async throws(SchedulerError)
  {
    guard images[reference] != nil else {
      throw SchedulerError(.notFound, "the image store has no image '\(reference)'")
    }
    guard !inUse.contains(reference) else {
      throw SchedulerError(
        .conflict, "image '\(reference)' runs in a set; retire or replace the set first")
    }
    let event = ClusterEvent(
      at: now(), actor: actor, kind: "image.removed", subject: reference, detail: "removed")
    do { try await store.deleteImages([reference], events: [event]) } catch {
      throw SchedulerError(.store, "cannot remove image \(reference): \(error.message)")
    }
    images[reference] = nil
  }

  /// What a collection removed.
  public struct Collected: Sendable, Codable {
    public var images: [String]
    public var blobs: Int
    public var bytes: Int64
  }

  /// Keeps every image a set names (`inUse`, the warm previous set's included) and each
  /// repository's `keepRecent` newest pushes; forgets the other references, then removes
  /// blobs no kept manifest names (but none uploaded within the last hour).
  public func collect(inUse: Set<String>, actor: String) async -> Collected {
    var kept = Set(inUse.filter { images[$0] != nil })
    for (_, pushes) in Dictionary(grouping: images.values, by: \.repository) {
      for image in pushes.sorted(by: { $0.pushedAt > $1.pushedAt }).prefix(keepRecent) {
        kept.insert(image.reference)
      }
    }
    let dropped = images.keys.filter { !kept.contains($0) }.sorted()
    if !dropped.isEmpty {
      let events = dropped.map {
        ClusterEvent(
          at: now(), actor: actor, kind: "image.collected", subject: $0,
          detail: "no set uses it and \(keepRecent) newer push(es) of its repository are kept")
      }
      do {
        try await store.deleteImages(dropped, events: events)
        for reference in dropped { images[reference] = nil }
      } catch {
        logger.error("cannot forget collected images", metadata: ["error": "\(error)"])
      }
    }
    var needed = Set<ContentDigest>()
    for image in images.values {
      needed.insert(image.manifest)
      if let bytes = try? blobs.read(image.manifest, limit: ImageManifest.maxBytes),
        let manifest = try? ImageManifest.decode(bytes)
      {
        for blob in manifest.blobs { needed.insert(blob.digest) }
      } else {
        // An unreadable manifest: keep everything rather than guess.
        return Collected(images: dropped.filter { images[$0] == nil }, blobs: 0, bytes: 0)
      }
    }
    let cutoff = now().addingTimeInterval(-uploadGrace)
    var removed = 0
    var bytes: Int64 = 0
    for blob in blobs.blobs() where !needed.contains(blob.digest) && blob.modified < cutoff {
      blobs.remove(blob.digest)
      removed += 1
      bytes += blob.size
    }
    // Partial uploads left by a crash or a cut connection.
    for partial in blobs.partials() where partial.modified < cutoff {
      blobs.discardPartial(partial.name)
    }
    if removed > 0 {
      logger.info("image blobs collected", metadata: ["blobs": "\(removed)", "bytes": "\(bytes)"])
    }
    return Collected(images: dropped, blobs: removed, bytes: bytes)
  }

  static func map(_ error: BlobError) -> SchedulerError {
    switch error.code {
    case .diskFull:
      SchedulerError(.diskFull, "the scheduler's image store is full: \(error.message)")
    case .notFound: SchedulerError(.notFound, error.message)
    case .digestMismatch, .tooLarge, .invalid: SchedulerError(.invalid, error.message)
    case .io: SchedulerError(.store, "the image store: \(error.message)")
    }
  }
}
