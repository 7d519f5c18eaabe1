import Foundation

/// What the scheduler wants running in one slot: everything the agent needs to run it.
public struct SlotAssignment: Codable, Sendable, Hashable {
  public var slot: SlotID
  /// The deployment that placed it; a new deployment of the same slot replaces the container.
  public var deployment: String
  public var image: String
  public var resources: Resources
  public var hostPort: Int
  public var containerPort: Int
  public var env: [String: String]
  public var health: HealthCheck
  public var network: NetworkMode
  public var security: SecurityRequest
  /// The container log driver from the app's spec; nil leaves the engine's default.
  public var log: LogConfig?
  /// Secrets to mount as read-only files `/run/secrets/NAME`, by name (their values: filled
  /// in by the scheduler only on the way to the node; nil in the scheduler's own state).
  public var secretFiles: [String: String]?

  public init(
    slot: SlotID, deployment: String, image: String, resources: Resources, hostPort: Int,
    containerPort: Int, env: [String: String] = [:], health: HealthCheck = HealthCheck(),
    network: NetworkMode = .bridge, security: SecurityRequest = SecurityRequest(),
    log: LogConfig? = nil
  ) {
    self.log = log
    self.slot = slot
    self.deployment = deployment
    self.image = image
    self.resources = resources
    self.hostPort = hostPort
    self.containerPort = containerPort
    self.env = env
    self.health = health
    self.network = network
    self.security = security
  }

  enum CodingKeys: String, CodingKey {
    case slot, deployment, image, resources, env, health, network, security, log
    case hostPort = "host_port"
    case containerPort = "container_port"
    case secretFiles = "secret_files"
  }

  /// The deterministic container name: a retried start finds the container it made.
  public var containerName: String { "turnout-\(slot.app)-\(slot.color.rawValue)-\(slot.index)" }
}

/// The health of a slot as its agent sees it.
public enum SlotHealth: String, Codable, Sendable, Hashable, CaseIterable {
  /// Placed, container not yet running or not yet passing its check.
  case starting
  case healthy
  case unhealthy
  /// The container is not running.
  case exited
  /// The agent will not run it (a safety rule, a missing image); see the message.
  case refused
}

/// A slot as its agent last reported it.
public struct SlotStatus: Codable, Sendable, Hashable {
  public var slot: SlotID
  public var deployment: String
  public var containerID: String?
  public var health: SlotHealth
  public var startedAt: Date?
  public var message: String?
  /// The id (`sha256:...`) of the image the slot's container runs.
  public var imageID: String?
  /// CPU and memory the container used at its last sample (Docker stats API).
  public var cpuUsedMillis: Int64?
  public var memoryUsedBytes: Int64?

  public init(
    slot: SlotID, deployment: String, containerID: String? = nil, health: SlotHealth,
    startedAt: Date? = nil, message: String? = nil, imageID: String? = nil,
    cpuUsedMillis: Int64? = nil, memoryUsedBytes: Int64? = nil
  ) {
    self.imageID = imageID
    self.cpuUsedMillis = cpuUsedMillis
    self.memoryUsedBytes = memoryUsedBytes
    self.slot = slot
    self.deployment = deployment
    self.containerID = containerID
    self.health = health
    self.startedAt = startedAt
    self.message = message
  }

  enum CodingKeys: String, CodingKey {
    case slot, deployment, health, message
    case containerID = "container_id"
    case startedAt = "started_at"
    case imageID = "image_id"
    case cpuUsedMillis = "cpu_used_millis"
    case memoryUsedBytes = "memory_used_bytes"
  }
}

/// The labels every managed container carries. The agent lists and touches only containers with
/// `turnout.managed=true`.
public enum ManagedLabels {
  public static let managed = "turnout.managed"
  public static let app = "turnout.app"
  public static let color = "turnout.color"
  public static let slot = "turnout.slot"
  public static let deployment = "turnout.deployment"
  /// The node whose agent owns the container: agents sharing one engine never touch each
  /// other's containers.
  public static let node = "turnout.node"
  /// Test and companion containers of a verification, and their network: never slots.
  public static let verify = "turnout.verify"
  public static let verifyRun = "turnout.verify-run"

  public static func of(_ assignment: SlotAssignment, node: NodeID) -> [String: String] {
    [
      managed: "true", app: assignment.slot.app, color: assignment.slot.color.rawValue,
      slot: String(assignment.slot.index), deployment: assignment.deployment,
      self.node: node.rawValue,
    ]
  }

  /// The label filter that finds one node's managed containers.
  public static func owned(by node: NodeID) -> [String: String] {
    [managed: "true", self.node: node.rawValue]
  }

  /// The slot a managed container belongs to, from its labels.
  public static func slot(from labels: [String: String]) -> SlotID? {
    guard labels[managed] == "true", let app = labels[app],
      let color = labels[color].flatMap(Color.init(rawValue:)),
      let index = labels[slot].flatMap(Int.init)
    else { return nil }
    return SlotID(app: app, color: color, index: index)
  }
}

/// Something an agent found different from what it should be, and what it did about it.
public struct DriftReport: Codable, Sendable, Hashable {
  public var slot: SlotID?
  public var container: String
  public var detail: String

  public init(slot: SlotID?, container: String, detail: String) {
    self.slot = slot
    self.container = container
    self.detail = detail
  }
}
