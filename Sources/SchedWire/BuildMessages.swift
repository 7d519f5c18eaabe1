import SchedModel

/// A build for a builder node: a `build` command action. The agent fetches the context from
/// the image store (or checks out `git`), builds through its engine, streams the output as
/// `build_log` lines, uploads the layers the store lacks on a data connection, and acks with
/// the outcome.
public struct BuildOrder: Codable, Sendable, Equatable {
  /// The build's id (`APP-NUMBER`): names the log and the engine's tag.
  public var build: String
  public var app: String
  /// The context tar in the image store; nil when `git` is set.
  public var context: ContentDigest?
  public var git: GitSource?
  public var dockerfile: String
  public var kind: BuildKind
  /// The reference the result is stored under, also the engine's tag on the builder.
  public var reference: String
  public var timeoutMillis: Int64
  /// What the build may use (the scheduler reserved it on this node).
  public var cpuMillis: Int64
  public var memoryBytes: Int64

  public init(
    build: String, app: String, context: ContentDigest?, git: GitSource? = nil,
    dockerfile: String, kind: BuildKind, reference: String, timeoutMillis: Int64,
    cpuMillis: Int64, memoryBytes: Int64
  ) {
    self.build = build
    self.app = app
    self.context = context
    self.git = git
    self.dockerfile = dockerfile
    self.kind = kind
    self.reference = reference
    self.timeoutMillis = timeoutMillis
    self.cpuMillis = cpuMillis
    self.memoryBytes = memoryBytes
  }

  enum CodingKeys: String, CodingKey {
    case build, app, context, git, dockerfile, reference
    // `kind` is the command action's own field.
    case kind = "build_kind"
    case timeoutMillis = "timeout_ms"
    case cpuMillis = "cpu_millis"
    case memoryBytes = "memory_bytes"
  }
}

/// A repository and the ref to build from it.
public struct GitSource: Codable, Sendable, Equatable {
  public var url: String
  public var ref: String

  public init(url: String, ref: String) {
    self.url = url
    self.ref = ref
  }
}

/// How a build ended, in the `build` command's ack.
public struct BuildOutcome: Codable, Sendable, Equatable {
  /// The stored image: manifest and config (image id) digests, its layers, when it succeeded.
  public var manifest: ContentDigest?
  public var image: ContentDigest?
  public var layers: [ContentDigest]
  public var steps: Int?
  public var cachedSteps: Int?
  /// Bytes the builder uploaded to the store (the layers it lacked).
  public var uploadedBytes: Int64
  public var failure: BuildFailure?

  public init(
    manifest: ContentDigest? = nil, image: ContentDigest? = nil, layers: [ContentDigest] = [],
    steps: Int? = nil, cachedSteps: Int? = nil, uploadedBytes: Int64 = 0,
    failure: BuildFailure? = nil
  ) {
    self.manifest = manifest
    self.image = image
    self.layers = layers
    self.steps = steps
    self.cachedSteps = cachedSteps
    self.uploadedBytes = uploadedBytes
    self.failure = failure
  }

  enum CodingKeys: String, CodingKey {
    case manifest, image, layers, steps, failure
    case cachedSteps = "cached_steps"
    case uploadedBytes = "uploaded_bytes"
  }
}

/// Output of a running build, agent → scheduler on the session, in order: `from` is the
/// number of lines of this build sent before these.
public struct BuildLog: WireBody {
  public static let type = MessageType.buildLog
  public var build: String
  public var from: Int
  public var lines: [String]

  public init(build: String, from: Int, lines: [String]) {
    self.build = build
    self.from = from
    self.lines = lines
  }
}

/// On a data connection: which of these blobs does the store lack?
public struct CheckBlobs: WireBody {
  public static let type = MessageType.checkBlobs
  public var digests: [ContentDigest]

  public init(digests: [ContentDigest]) { self.digests = digests }
}

/// The answer to `check_blobs`.
public struct MissingBlobs: WireBody {
  public static let type = MessageType.missingBlobs
  public var digests: [ContentDigest]

  public init(digests: [ContentDigest]) { self.digests = digests }
}

/// On a data connection: `size` raw bytes follow this line's newline, the blob `digest`. The
/// scheduler checks the digest before it keeps anything and answers `stored` (or `error`).
public struct PutBlob: WireBody {
  public static let type = MessageType.putBlob
  public var digest: ContentDigest
  public var size: Int64

  public init(digest: ContentDigest, size: Int64) {
    self.digest = digest
    self.size = size
  }

  /// The raw bytes that follow `line` when it is a `put_blob` line, else nil: what a line
  /// decoder asks before it reads on.
  public static func rawLength(after line: some Collection<UInt8>) -> Int64? {
    // Cheap test first: most lines are heartbeats.
    guard line.count < 4096, contains(Array(line), Array("\"put_blob\"".utf8)),
      case .success(let frame) = LineCodec.decode(line), case .putBlob(let put) = frame.message,
      put.size >= 0
    else { return nil }
    return put.size
  }
}

/// The answer to a `put_blob` whose bytes matched its digest.
public struct BlobStored: WireBody {
  public static let type = MessageType.stored
  public var digest: ContentDigest
  public var size: Int64

  public init(digest: ContentDigest, size: Int64) {
    self.digest = digest
    self.size = size
  }
}

/// Whether `marker` occurs in `bytes`.
private func contains(_ bytes: [UInt8], _ marker: [UInt8]) -> Bool {
  guard bytes.count >= marker.count else { return false }
  for start in 0...(bytes.count - marker.count)
  where bytes[start] == marker[0] && bytes[start..<(start + marker.count)].elementsEqual(marker) {
    return true
  }
  return false
}
