import SchedModel

/// A scheduler → agent command. `id` in the head is the command id; retries reuse it.
/// Agents drop commands whose `generation` is older than the one they last registered with.
public struct Command: WireBody {
  public static let type = MessageType.command
  public var generation: Int64
  public var action: CommandAction

  public init(generation: Int64, action: CommandAction) {
    self.generation = generation
    self.action = action
  }
}

/// The agent's answer to a command, with the command id echoed in the head.
public struct CommandAck: WireBody {
  public static let type = MessageType.commandAck
  public var ok: Bool
  public var message: String?
  /// The outcome of a `run_test` command.
  public var test: TestOutcome?
  /// The outcome of a `check_slot` command.
  public var check: CheckOutcome?
  /// The outcome of a `build` command.
  public var build: BuildOutcome?

  public init(
    ok: Bool, message: String? = nil, test: TestOutcome? = nil, check: CheckOutcome? = nil,
    build: BuildOutcome? = nil
  ) {
    self.ok = ok
    self.build = build
    self.message = message
    self.test = test
    self.check = check
  }
}

/// What a command asks for. Encoded flat with a `kind` field.
public enum CommandAction: Sendable, Equatable, Codable {
  /// The complete list of slots the scheduler wants on the node. Declarative and idempotent: the
  /// agent starts what is missing, replaces what differs, and stops managed containers not listed.
  case assign(AssignSlots)
  /// Run one test of a verification: its companions on a private network, the command in a
  /// container of the image digest; answered when it is over and everything is removed.
  case runTest(RunTest)
  /// Check one of the node's slots from the node itself; answered with the outcome.
  case checkSlot(CheckSlot)
  /// Build an image on this builder node; answered when it is stored or failed.
  case build(BuildOrder)

  public enum Kind: String, Codable, Sendable, CaseIterable {
    case assign
    case runTest = "run_test"
    case checkSlot = "check_slot"
    case build
  }

  enum KindKey: String, CodingKey { case kind }

  public var kind: Kind {
    switch self {
    case .assign: .assign
    case .runTest: .runTest
    case .checkSlot: .checkSlot
    case .build: .build
    }
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: KindKey.self)
    switch try container.decode(Kind.self, forKey: .kind) {
    case .assign: self = .assign(try AssignSlots(from: decoder))
    case .runTest: self = .runTest(try RunTest(from: decoder))
    case .checkSlot: self = .checkSlot(try CheckSlot(from: decoder))
    case .build: self = .build(try BuildOrder(from: decoder))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: KindKey.self)
    try container.encode(kind, forKey: .kind)
    switch self {
    case .assign(let body): try body.encode(to: encoder)
    case .runTest(let body): try body.encode(to: encoder)
    case .checkSlot(let body): try body.encode(to: encoder)
    case .build(let body): try body.encode(to: encoder)
    }
  }
}

/// Every slot the node should run, nothing else.
public struct AssignSlots: Codable, Sendable, Equatable {
  public var slots: [SlotAssignment]
  /// Where to fetch the images of these slots that the cluster's image store holds, once per
  /// image; left out when there are none (a slot's image is then the engine's own).
  public var images: [ImageSource]
  /// Credentials for the registries these slots' images name, when the scheduler holds some;
  /// left out when there are none.
  public var registries: [RegistryCredential]

  public init(
    slots: [SlotAssignment], images: [ImageSource] = [], registries: [RegistryCredential] = []
  ) {
    self.slots = slots
    self.images = images
    self.registries = registries
  }

  enum CodingKeys: String, CodingKey { case slots, images, registries }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    slots = try container.decode([SlotAssignment].self, forKey: .slots)
    images = try container.decodeIfPresent([ImageSource].self, forKey: .images) ?? []
    registries =
      try container.decodeIfPresent([RegistryCredential].self, forKey: .registries) ?? []
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(slots, forKey: .slots)
    if !images.isEmpty { try container.encode(images, forKey: .images) }
    if !registries.isEmpty { try container.encode(registries, forKey: .registries) }
  }
}

/// One test of a verification, as the agent runs it.
public struct RunTest: Codable, Sendable, Equatable {
  /// Unique per verification and test: names the containers and the network.
  public var run: String
  public var app: String
  /// The image digest (`sha256:...`) the test runs from: exactly the candidate's bits.
  public var image: String
  public var test: TestSpec
  /// What the test container may use (the scheduler reserved it on this node).
  public var cpuMillis: Int64
  public var memoryBytes: Int64
  /// Where the cluster's image store keeps the candidate's image and the companions' images,
  /// for a node whose engine lacks them; nil when the store holds none of them.
  public var images: [ImageSource]?

  public init(
    run: String, app: String, image: String, test: TestSpec, cpuMillis: Int64, memoryBytes: Int64
  ) {
    self.run = run
    self.app = app
    self.image = image
    self.test = test
    self.cpuMillis = cpuMillis
    self.memoryBytes = memoryBytes
  }

  enum CodingKeys: String, CodingKey {
    case run, app, image, test, images
    case cpuMillis = "cpu_millis"
    case memoryBytes = "memory_bytes"
  }
}

/// How a test run ended.
public struct TestOutcome: Codable, Sendable, Equatable {
  /// The command's exit code; nil when it did not finish (timeout, or it could not start).
  public var exitCode: Int?
  public var timedOut: Bool
  public var durationMillis: Int64
  /// The tail of what the command wrote to stdout and stderr.
  public var output: String
  /// Why the run could not happen (a missing image, a companion that would not start).
  public var error: String?

  public init(
    exitCode: Int?, timedOut: Bool = false, durationMillis: Int64, output: String,
    error: String? = nil
  ) {
    self.exitCode = exitCode
    self.timedOut = timedOut
    self.durationMillis = durationMillis
    self.output = output
    self.error = error
  }

  public var passed: Bool { exitCode == 0 && !timedOut && error == nil }

  enum CodingKeys: String, CodingKey {
    case output, error
    case exitCode = "exit_code"
    case timedOut = "timed_out"
    case durationMillis = "duration_ms"
  }
}
