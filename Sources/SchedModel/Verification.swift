import Foundation

/// One pre-production check of a candidate set: its tests run in throwaway containers of the
/// exact image digest, then its checks against every candidate slot, directly and through a
/// router's preview route. Stored against the digest; a switch needs a passing one.
public struct Verification: Codable, Sendable, Hashable {
  public enum State: String, Codable, Sendable, Hashable {
    case running, passed, failed
  }

  public var id: String
  public var app: String
  public var color: Color
  public var deployment: String
  /// The image reference the set was deployed from.
  public var image: String
  /// The image id (`sha256:...`) every candidate slot runs, and the tests ran from.
  public var digest: String
  public var actor: String
  public var startedAt: Date
  public var finishedAt: Date?
  public var state: State
  public var steps: [VerifyStep]
  /// Why it failed, in one line.
  public var summary: String?

  public init(
    id: String, app: String, color: Color, deployment: String, image: String, digest: String,
    actor: String, startedAt: Date, finishedAt: Date? = nil, state: State = .running,
    steps: [VerifyStep] = [], summary: String? = nil
  ) {
    self.id = id
    self.app = app
    self.color = color
    self.deployment = deployment
    self.image = image
    self.digest = digest
    self.actor = actor
    self.startedAt = startedAt
    self.finishedAt = finishedAt
    self.state = state
    self.steps = steps
    self.summary = summary
  }

  enum CodingKeys: String, CodingKey {
    case id, app, color, deployment, image, digest, actor, state, steps, summary
    case startedAt = "started_at"
    case finishedAt = "finished_at"
  }
}

/// One test run or one check of one target within a verification.
public struct VerifyStep: Codable, Sendable, Hashable {
  public enum Kind: String, Codable, Sendable, Hashable {
    case test, check
  }

  public var kind: Kind
  public var name: String
  /// Where it ran: the node of a test, the slot or the router of a check.
  public var target: String
  public var state: Verification.State
  public var durationMillis: Int64?
  /// What was wrong, or what was seen.
  public var detail: String?
  /// The tail of a test's output.
  public var output: String?

  public init(
    kind: Kind, name: String, target: String, state: Verification.State = .running,
    durationMillis: Int64? = nil, detail: String? = nil, output: String? = nil
  ) {
    self.kind = kind
    self.name = name
    self.target = target
    self.state = state
    self.durationMillis = durationMillis
    self.detail = detail
    self.output = output
  }

  enum CodingKeys: String, CodingKey {
    case kind, name, target, state, detail, output
    case durationMillis = "duration_ms"
  }
}
