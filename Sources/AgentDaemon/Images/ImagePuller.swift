import AgentCore
import Blobs
import Foundation
import Logging
import SchedModel

/// Gets the images of this node's slots from the cluster's store into its engine: fetches
/// the manifest, lets the engine pull from the loopback endpoint (the engine asks only for
/// the layers it lacks), names the image as the slot does, and keeps each pull's progress
/// for heartbeats. An image the engine already holds under the store's id is only named.
public actor ImagePuller {
  let runtime: any ContainerRuntime
  let cache: ImageCache
  /// `HOST:PORT/NAME` of the loopback endpoint.
  let repository: String
  let logger: Logger
  private var sources: [String: ImageSource] = [:]
  private var credentials: [String: RegistryCredential] = [:]
  private var pulls: [ContentDigest: ImagePull] = [:]
  private var layerSizes: [ContentDigest: [BlobDescriptor]] = [:]
  private var running: [ContentDigest: Task<Void, any Error>] = [:]

  public init(runtime: any ContainerRuntime, cache: ImageCache, repository: String, logger: Logger)
  {
    self.runtime = runtime
    self.cache = cache
    self.repository = repository
    self.logger = logger
  }

  /// The store's images (and registry credentials) for the slots of the latest assignment;
  /// reports of other images are dropped.
  public func update(_ list: [ImageSource], registries: [RegistryCredential] = []) {
    credentials = Dictionary(registries.map { ($0.registry, $0) }, uniquingKeysWith: { $1 })
    sources = Dictionary(list.map { ($0.reference, $0) }, uniquingKeysWith: { $1 })
    let wanted = Set(list.map(\.manifest))
    pulls = pulls.filter { wanted.contains($0.key) || $0.value.state == .pulling }
  }

  /// Makes `reference` name the store's image in the engine, pulling it when needed. Does
  /// nothing for a reference the store does not hold (the engine's own image runs).
  public func prepare(_ reference: String) async throws(RuntimeError) {
    guard let source = sources[reference] else {
      try await pullWithCredentials(reference)
      return
    }
    try await prepare(source)
  }

  /// Makes the engine hold `source`'s image, named as its reference: for a test run, whose
  /// images come with the command rather than the assignment.
  public func prepare(_ source: ImageSource) async throws(RuntimeError) {
    let reference = source.reference
    if (try? await runtime.imageID(reference)) == source.config.rawValue { return }
    if (try? await runtime.imageID(source.config.rawValue)) == source.config.rawValue {
      try await runtime.tag(source.config.rawValue, as: reference)
      return
    }
    let task: Task<Void, any Error>
    if let existing = running[source.manifest] {
      task = existing
    } else {
      task = Task { try await self.pull(source) }
      running[source.manifest] = task
    }
    do {
      try await task.value
    } catch let error as RuntimeError {
      throw error
    } catch {
      throw RuntimeError(.failed, "\(error)")
    }
  }

  private func pull(_ source: ImageSource) async throws {
    defer { running[source.manifest] = nil }
    let started = ContinuousClock.now
    pulls[source.manifest] = ImagePull(
      reference: source.reference, manifest: source.manifest, state: .pulling, layers: 0)
    do {
      _ = try await cache.ensure(source.manifest, size: nil)
      let bytes = try cache.blobs.read(source.manifest, limit: ImageManifest.maxBytes)
      let manifest = try ImageManifest.decode(bytes)
      guard manifest.config.digest == source.config else {
        throw AgentError(
          .image, "the store's manifest of \(source.reference) names another config than assigned")
      }
      await cache.allow(manifest, digest: source.manifest, size: Int64(bytes.count))
      layerSizes[source.manifest] = manifest.layers
      pulls[source.manifest]?.layers = manifest.layers.count
      logger.info(
        "pulling image from the cluster's store",
        metadata: ["image": "\(source.reference)", "manifest": "\(source.manifest)"])
      try await pullWatching(
        "\(repository)@\(source.manifest.rawValue)", blobs: manifest.blobs.map(\.digest))
      try await runtime.tag(source.config.rawValue, as: source.reference)
      await count(source.manifest, manifest.layers)
      pulls[source.manifest]?.state = .done
      let fetching = await cache.longestFetch(among: manifest.blobs.map(\.digest))
      await cache.drop(manifest.blobs.map(\.digest) + [source.manifest])
      let took = ContinuousClock.now - started
      logger.info(
        "image pulled",
        metadata: [
          "image": "\(source.reference)",
          "layers.fetched": "\(pulls[source.manifest]?.layersFetched ?? 0)",
          "bytes.fetched": "\(pulls[source.manifest]?.bytesFetched ?? 0)", "took": "\(took)",
          "longest.fetch": "\(fetching)",
        ])
    } catch {
      let reason =
        (error as? RuntimeError)?.message ?? (error as? AgentError)?.message
        ?? (error as? ModelError)?.message ?? (error as? BlobError)?.message ?? "\(error)"
      if let layers = layerSizes[source.manifest] { await count(source.manifest, layers) }
      pulls[source.manifest]?.state = .failed
      pulls[source.manifest]?.message = reason
      logger.error(
        "cannot get image from the cluster's store",
        metadata: ["image": "\(source.reference)", "error": "\(reason)"])
      throw RuntimeError(
        .notFound, "image \(source.reference) could not be had from the cluster's store: \(reason)")
    }
  }

  /// Pulls an image of a registry the scheduler gave credentials for, when the engine lacks it.
  private func pullWithCredentials(_ reference: String) async throws(RuntimeError) {
    guard let registry = ImageReference.registry(of: reference),
      let credential = credentials[registry]
    else { return }
    if (try? await runtime.imageID(reference)) != nil { return }
    logger.info(
      "pulling image from its registry",
      metadata: ["image": "\(reference)", "registry.user": "\(credential.username)"])
    do {
      try await runtime.pull(reference, auth: Self.registryAuth(credential))
    } catch {
      throw RuntimeError(
        .notFound,
        "image \(reference) could not be pulled from \(registry) as \(credential.username): \(error.message); check the credentials (schedctl registry login \(registry))"
      )
    }
  }

  /// The engine's `X-Registry-Auth` header: base64url of the credential's JSON.
  static func registryAuth(_ credential: RegistryCredential) -> String {
    let json: [String: String] = [
      "username": credential.username, "password": credential.password,
      "serveraddress": credential.registry,
    ]
    let data = (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])) ?? Data()
    return data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_")
  }

  /// Has the engine pull `reference`, and stops it as soon as one of `blobs` failed in the
  /// cache: an engine retries a failed layer for a minute and more, and the reason is known.
  private func pullWatching(_ reference: String, blobs: [ContentDigest]) async throws {
    let runtime = self.runtime
    let cache = self.cache
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await runtime.pull(reference, auth: nil) }
      group.addTask {
        while true {
          try await Task.sleep(for: .milliseconds(200))
          if let reason = await cache.failure(among: blobs) {
            throw AgentError(.image, reason)
          }
        }
      }
      try await group.next()
      group.cancelAll()
    }
  }

  /// Brings a pull's counts up to date from the cache's counters.
  private func count(_ manifest: ContentDigest, _ layers: [BlobDescriptor]) async {
    var fetchedLayers = 0
    var toFetch: Int64 = 0
    var fetched: Int64 = 0
    for layer in layers {
      guard let bytes = await cache.fetched(layer.digest) else { continue }
      fetchedLayers += 1
      toFetch += layer.size
      fetched += bytes
    }
    guard pulls[manifest] != nil else { return }
    pulls[manifest]?.layersFetched = fetchedLayers
    pulls[manifest]?.bytesToFetch = toFetch
    pulls[manifest]?.bytesFetched = fetched
  }

  /// The pulls to report, their counts as of now.
  public func report() async -> [ImagePull] {
    for (manifest, pull) in pulls where pull.state == .pulling {
      if let layers = layerSizes[manifest] { await count(manifest, layers) }
    }
    return pulls.values.sorted { $0.reference < $1.reference }
  }
}
