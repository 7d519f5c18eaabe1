import SchedModel

/// One infra check of one of the node's own slots, for a verification. The agent runs it on its
/// host, against the port the slot is published on there: the scheduler dials no node, so the
/// check holds for nodes behind NAT too.
public struct CheckSlot: Codable, Sendable, Equatable {
  public var slot: SlotID
  /// The host port the slot is published on.
  public var hostPort: Int
  public var check: CheckSpec

  public init(slot: SlotID, hostPort: Int, check: CheckSpec) {
    self.slot = slot
    self.hostPort = hostPort
    self.check = check
  }

  enum CodingKeys: String, CodingKey {
    case slot, check
    case hostPort = "host_port"
  }
}

/// How a check went, as the agent that ran it saw it.
public struct CheckOutcome: Codable, Sendable, Equatable {
  public var passed: Bool
  public var durationMillis: Int64
  /// What was seen: `200 in 3 ms`, or what was wrong.
  public var detail: String

  public init(passed: Bool, durationMillis: Int64, detail: String) {
    self.passed = passed
    self.durationMillis = durationMillis
    self.detail = detail
  }

  enum CodingKeys: String, CodingKey {
    case passed, detail
    case durationMillis = "duration_ms"
  }
}

/// Scheduler → router: run one check of a verification through the router's own preview
/// listener, the way a client would reach the candidate. The router answers with
/// `preview_checked`; the scheduler dials no router.
public struct PreviewCheck: WireBody {
  public static let type = MessageType.previewCheck
  public var app: String
  /// The Host the request carries (the app's first host), if the app has hosts.
  public var host: String?
  public var check: CheckSpec
  /// The answer must carry these stamps: proof the candidate, not the live set, answered.
  public var color: Color
  public var deployment: String

  public init(app: String, host: String?, check: CheckSpec, color: Color, deployment: String) {
    self.app = app
    self.host = host
    self.check = check
    self.color = color
    self.deployment = deployment
  }
}

/// Router → scheduler: how a `preview_check` went, with its id echoed.
public struct PreviewChecked: WireBody {
  public static let type = MessageType.previewChecked
  public var outcome: CheckOutcome

  public init(outcome: CheckOutcome) { self.outcome = outcome }
}
