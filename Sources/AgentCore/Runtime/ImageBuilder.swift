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
  /// Writes the image as the engine exports it (`docker save`), unpacked, into `directory`.
  func exportImage(_ image: String, into directory: String) async throws(RuntimeError)
}

/// What a build asks of the engine.
public struct EngineBuildOptions: Sendable, Hashable {
  public var dockerfile: String
  /// The tag the result gets in the engine.
  public var tag: String
  /// No layer cache, and base images pulled afresh.
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
