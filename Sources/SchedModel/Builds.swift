import Foundation

/// How much of an image a build makes again.
public enum BuildKind: String, Codable, Sendable, Hashable, CaseIterable {
  /// The builder's layer cache is used: only the steps after the first changed input run.
  case appOnly = "app-only"
  /// No cache, and base images fetched afresh: every step runs.
  case full
}

/// One build of an app's image on a builder node, from its order to its image in the store.
public struct BuildRecord: Codable, Sendable, Hashable {
  public enum State: String, Codable, Sendable, Hashable {
    /// Waiting for the context, for an earlier build of the app, or for a builder.
    case queued
    case running
    case succeeded
    case failed
  }

  /// `APP-NUMBER`, unique in the cluster.
  public var id: String
  public var app: String
  /// Counts the app's builds from 1.
  public var number: Int
  /// The git ref built, or what the operator named the context by (default `local`).
  public var ref: String
  public var kind: BuildKind
  /// Where the context came from: `context` (uploaded by schedctl) or a git URL.
  public var source: String
  public var actor: String
  public var node: NodeID?
  public var state: State
  public var queuedAt: Date
  public var startedAt: Date?
  public var finishedAt: Date?
  /// The context's size as uploaded, and its blob in the store (nil for a git checkout).
  public var contextBytes: Int64?
  public var context: ContentDigest?
  /// The Dockerfile's path in the context.
  public var dockerfile: String = "Dockerfile"
  /// The image reference the result is stored under, like `web:main-b12`.
  public var reference: String
  /// The result: its manifest in the store and its image id (the config's digest).
  public var manifest: ContentDigest?
  public var image: ContentDigest?
  public var layers: [ContentDigest]?
  /// Steps of the Dockerfile, and how many of them the layer cache answered.
  public var steps: Int?
  public var cachedSteps: Int?
  public var failure: BuildFailure?

  public init(
    id: String, app: String, number: Int, ref: String, kind: BuildKind, source: String,
    actor: String, queuedAt: Date, reference: String, contextBytes: Int64? = nil
  ) {
    self.id = id
    self.app = app
    self.number = number
    self.ref = ref
    self.kind = kind
    self.source = source
    self.actor = actor
    self.state = .queued
    self.queuedAt = queuedAt
    self.reference = reference
    self.contextBytes = contextBytes
  }

  /// From the start on the builder to the image in the store.
  public var durationMillis: Int64? {
    guard let startedAt, let finishedAt else { return nil }
    return Int64((finishedAt.timeIntervalSince(startedAt) * 1000).rounded())
  }

  public var isOver: Bool { state == .succeeded || state == .failed }

  /// The image tag of build `number` of `ref`: the ref's last part made tag-safe, then `-bN`.
  public static func tag(ref: String, number: Int) -> String {
    let last = ref.split(separator: "/").last.map(String.init) ?? ref
    let safe = String(
      last.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" ? $0 : "-" }
        .prefix(100))
    let trimmed = safe.drop { $0 == "." || $0 == "-" }
    return trimmed.isEmpty ? "b\(number)" : "\(trimmed)-b\(number)"
  }

  enum CodingKeys: String, CodingKey {
    case id, app, number, ref, kind, source, actor, node, state, reference, manifest, image
    case layers, steps, failure, context, dockerfile
    case queuedAt = "queued_at"
    case startedAt = "started_at"
    case finishedAt = "finished_at"
    case contextBytes = "context_bytes"
    case cachedSteps = "cached_steps"
  }
}

/// Why a build failed: the step it stopped at, with the end of its output.
public struct BuildFailure: Codable, Sendable, Hashable {
  /// The step (1-based) and the Dockerfile's count of steps, when the build got to one.
  public var step: Int?
  public var steps: Int?
  /// The step's instruction, like `RUN make`.
  public var instruction: String?
  public var message: String
  /// The last lines of the build's output.
  public var tail: [String]

  public init(
    step: Int? = nil, steps: Int? = nil, instruction: String? = nil, message: String,
    tail: [String] = []
  ) {
    self.step = step
    self.steps = steps
    self.instruction = instruction
    self.message = message
    self.tail = tail
  }

  /// One line for lists and events: `step 3/5 (RUN make): exit code 2`.
  public var summary: String {
    guard let step else { return message }
    let of = steps.map { "/\($0)" } ?? ""
    let what = instruction.map { " (\($0))" } ?? ""
    return "step \(step)\(of)\(what): \(message)"
  }
}

/// An app's `build:` settings: how its image is built in the cluster, and what a push to
/// its git host does.
public struct BuildSettings: Codable, Sendable, Hashable {
  /// What a webhook's build goes on to do once its image is stored.
  public enum OnPush: String, Codable, Sendable, Hashable, CaseIterable {
    /// Store the image only.
    case build
    /// Deploy it as the candidate set.
    case deploy
    /// Deploy it and verify the candidate.
    case verify
  }

  /// A build running longer is stopped and fails.
  public var timeoutMillis: Int64
  /// What a build reserves on its builder while it runs.
  public var resources: Resources
  /// The Dockerfile's path in the context.
  public var dockerfile: String
  /// The repository a webhook's ref is checked out from, on the builder.
  public var git: String?
  public var onPush: OnPush
  /// After a webhook's build, deploy and a verification that passed, switch production too.
  /// Off unless the spec says so; only with `on_push: verify`.
  public var switchAfterVerify: Bool

  public static let defaultTimeoutMillis: Int64 = 30 * 60_000
  /// The node label of builders (`sched-agent --builder` sets it).
  public static let builderLabel = "builder"
  public static let defaultResources = Resources(cpuMillis: 1000, memoryBytes: 1 << 30)

  public init(
    timeoutMillis: Int64 = Self.defaultTimeoutMillis, resources: Resources = Self.defaultResources,
    dockerfile: String = "Dockerfile", git: String? = nil, onPush: OnPush = .build,
    switchAfterVerify: Bool = false
  ) {
    self.timeoutMillis = timeoutMillis
    self.resources = resources
    self.dockerfile = dockerfile
    self.git = git
    self.onPush = onPush
    self.switchAfterVerify = switchAfterVerify
  }

  enum CodingKeys: String, CodingKey {
    case resources, dockerfile, git
    case timeoutMillis = "timeout_ms"
    case onPush = "on_push"
    case switchAfterVerify = "switch_after_verify"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    timeoutMillis =
      try c.decodeIfPresent(Int64.self, forKey: .timeoutMillis)
      ?? Self.defaultTimeoutMillis
    resources = try c.decodeIfPresent(Resources.self, forKey: .resources) ?? Self.defaultResources
    dockerfile = try c.decodeIfPresent(String.self, forKey: .dockerfile) ?? "Dockerfile"
    git = try c.decodeIfPresent(String.self, forKey: .git)
    onPush = try c.decodeIfPresent(OnPush.self, forKey: .onPush) ?? .build
    switchAfterVerify = try c.decodeIfPresent(Bool.self, forKey: .switchAfterVerify) ?? false
  }

  /// The rules, with messages naming the field under `build.`.
  public func validate() throws(ModelError) {
    func fail(_ field: String, _ message: String) -> ModelError {
      ModelError(.invalidApp, "build.\(field): \(message)")
    }
    guard timeoutMillis >= 1000 else { throw fail("timeout", "must be at least 1s") }
    guard resources.cpuMillis > 0, resources.memoryBytes >= 6 << 20 else {
      throw fail("cpu", "a build needs more than 0 CPU and at least 6Mi of memory")
    }
    guard !dockerfile.isEmpty, !dockerfile.hasPrefix("/"),
      !dockerfile.split(separator: "/").contains("..")
    else {
      throw fail(
        "dockerfile", "must be a path inside the context, like Dockerfile or docker/web.Dockerfile")
    }
    if switchAfterVerify && onPush != .verify {
      throw fail(
        "switch_after_verify", "needs on_push: verify (a switch only follows a passed verification)"
      )
    }
  }
}
