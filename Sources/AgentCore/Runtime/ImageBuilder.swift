import SchedModel

/// Builds images on this host: the Docker Engine API's build endpoint in production, a fake
/// in tests. Only builder nodes use it.
public protocol ImageBuilder: Sendable {
  /// Builds from the context tar at `contextPath`; hands every message of the engine's
  /// progress stream to `progress` as it arrives. Returns once the stream ends (a failed step
  /// is in the stream, not thrown); throws when the engine cannot be reached or refuses.
  func build(
    contextPath: String, options: EngineBuildOptions,
    progress: @escaping @Sendable (BuildProgress) async -> Void
  ) async throws(RuntimeError)
  /// Writes the image as the engine exports it (`docker save`), unpacked, into `directory`;
  /// returns each file's digest and size, taken as it was written.
  func exportImage(_ image: String, into directory: String) async throws(RuntimeError)
    -> [String: (ContentDigest, Int64)]
  /// Pulls `reference` from its registry again, for a full build's fresh base.
  func refresh(_ reference: String) async throws(RuntimeError)
  /// The engine's images and the disk their layers take.
  func diskUsage() async throws(RuntimeError) -> EngineDiskUsage
  /// Removes an image with its tags, and its untagged parents no other image needs (the
  /// classic builder's cache of its steps).
  func removeImage(_ id: String) async throws(RuntimeError)
}

/// What a build asks of the engine.
public struct EngineBuildOptions: Sendable, Hashable {
  public var dockerfile: String
  /// The tag the result gets in the engine.
  public var tag: String
  /// No layer cache (the caller refreshes the base images first).
  public var full: Bool
  public var labels: [String: String]
  public var cpuMillis: Int64
  public var memoryBytes: Int64

  public init(
    dockerfile: String, tag: String, full: Bool, labels: [String: String], cpuMillis: Int64,
    memoryBytes: Int64
  ) {
    self.dockerfile = dockerfile
    self.tag = tag
    self.full = full
    self.labels = labels
    self.cpuMillis = cpuMillis
    self.memoryBytes = memoryBytes
  }
}

/// One message of the engine's build stream: output text, the built image's id, or an error.
public struct BuildProgress: Codable, Sendable, Hashable {
  public struct Detail: Codable, Sendable, Hashable {
    public var message: String?
  }

  public struct Aux: Codable, Sendable, Hashable {
    public var ID: String?
  }

  public var stream: String?
  public var status: String?
  public var error: String?
  public var errorDetail: Detail?
  public var aux: Aux?

  public init(
    stream: String? = nil, status: String? = nil, error: String? = nil, imageID: String? = nil
  ) {
    self.stream = stream
    self.status = status
    self.error = error
    self.aux = imageID.map { Aux(ID: $0) }
  }
}

/// What the engine's images take on disk (`GET /system/df`), for the build cache's bound.
public struct EngineDiskUsage: Sendable, Hashable {
  /// Every image layer on the engine, shared ones counted once.
  public var layersBytes: Int64
  public var images: [EngineImage]

  public init(layersBytes: Int64, images: [EngineImage]) {
    self.layersBytes = layersBytes
    self.images = images
  }
}

/// One image of the engine, as the build cache sees it.
public struct EngineImage: Sendable, Hashable {
  public var id: String
  /// Unix seconds.
  public var created: Int64
  /// What removing it frees: its size less what it shares with other images.
  public var uniqueBytes: Int64
  /// Containers made from it, running or not.
  public var containers: Int
  /// The build that made it (`turnout.build` label), if a build did.
  public var build: String?

  public init(id: String, created: Int64, uniqueBytes: Int64, containers: Int, build: String?) {
    self.id = id
    self.created = created
    self.uniqueBytes = uniqueBytes
    self.containers = containers
    self.build = build
  }
}

/// Keeps a builder's disk under its bound: when the engine's layers take more than `limit`,
/// the oldest images builds made go first, until the estimate is under it. Never an image a
/// container uses, never one in `keep` (the build just made), never one no build made. Pure.
public enum BuildCachePolicy {
  public static func prune(_ usage: EngineDiskUsage, limit: Int64, keep: Set<String>) -> [String] {
    var total = usage.layersBytes
    guard total > limit else { return [] }
    var removed: [String] = []
    let candidates = usage.images
      .filter { $0.build != nil && $0.containers == 0 && !keep.contains($0.id) }
      .sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    for image in candidates where total > limit {
      removed.append(image.id)
      total -= image.uniqueBytes
    }
    return removed
  }
}
