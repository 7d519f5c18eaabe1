import Foundation
import RouteTable
import SchedModel

// The operator API's bodies for apps, sets and deployments.

public struct AppsResponse: Codable, Sendable, Equatable {
  public var apps: [AppRecord]
  public init(apps: [AppRecord]) { self.apps = apps }
}

/// `POST /v1/apps/NAME/deploy`: build the idle color from `image` (default: the spec's image).
public struct DeployRequest: Codable, Sendable, Equatable {
  public var image: String?
  public init(image: String? = nil) { self.image = image }
}

public struct DeployResponse: Codable, Sendable, Equatable {
  public var app: String
  public var color: Color
  public var deployment: String
  public var image: String
  public var placed: [PlanResponse.Placed]

  public init(
    app: String, color: Color, deployment: String, image: String, placed: [PlanResponse.Placed]
  ) {
    self.app = app
    self.color = color
    self.deployment = deployment
    self.image = image
    self.placed = placed
  }
}

/// `GET /v1/apps/NAME`: both colors, each slot where it runs and how it is.
public struct AppStatusResponse: Codable, Sendable, Equatable {
  public var app: AppRecord
  public var sets: [SetView]
  /// Requests per color summed over every router's last report.
  public var traffic: [SetTraffic]
  /// The epoch of the route table the scheduler gives routers.
  public var epoch: Int64
  /// The app's latest build in the cluster, if it had one.
  public var lastBuild: BuildRecord?
  /// Set when re-placement has something to say: the brake holds, or slots of this app on
  /// down nodes fit nowhere.
  public var replacement: ReplacementStatus?

  public init(
    app: AppRecord, sets: [SetView], traffic: [SetTraffic] = [], epoch: Int64 = 0,
    lastBuild: BuildRecord? = nil
  ) {
    self.lastBuild = lastBuild
    self.app = app
    self.sets = sets
    self.traffic = traffic
    self.epoch = epoch
  }

  enum CodingKeys: String, CodingKey {
    case app, sets, traffic, epoch, replacement
    case lastBuild = "last_build"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    app = try c.decode(AppRecord.self, forKey: .app)
    sets = try c.decode([SetView].self, forKey: .sets)
    traffic = try c.decodeIfPresent([SetTraffic].self, forKey: .traffic) ?? []
    epoch = try c.decodeIfPresent(Int64.self, forKey: .epoch) ?? 0
    lastBuild = try c.decodeIfPresent(BuildRecord.self, forKey: .lastBuild)
    replacement = try c.decodeIfPresent(ReplacementStatus.self, forKey: .replacement)
  }
}

public struct SetView: Codable, Sendable, Equatable {
  public enum State: String, Codable, Sendable {
    /// Every slot healthy.
    case ready
    /// Slots still starting, none failed.
    case starting
    /// A slot is unhealthy, exited, refused, or on a down node.
    case degraded
  }

  public var color: Color
  public var deployment: String
  public var image: String
  public var state: State
  public var live: Bool
  public var slots: [SlotView]
  /// When the set was deployed.
  public var createdAt: Date?
  /// How far each node of the set got fetching its image from the store (nodes that did not
  /// need to fetch it are not listed).
  public var pulls: [NodePull]

  enum CodingKeys: String, CodingKey {
    case color, deployment, image, state, live, slots, pulls
    case createdAt = "created_at"
  }

  public init(
    color: Color, deployment: String, image: String, state: State, live: Bool, slots: [SlotView],
    createdAt: Date? = nil, pulls: [NodePull] = []
  ) {
    self.pulls = pulls
    self.color = color
    self.deployment = deployment
    self.image = image
    self.state = state
    self.live = live
    self.slots = slots
    self.createdAt = createdAt
  }

  public var healthy: Int { slots.filter { $0.health == .healthy }.count }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    color = try c.decode(Color.self, forKey: .color)
    deployment = try c.decode(String.self, forKey: .deployment)
    image = try c.decode(String.self, forKey: .image)
    state = try c.decode(State.self, forKey: .state)
    live = try c.decode(Bool.self, forKey: .live)
    slots = try c.decode([SlotView].self, forKey: .slots)
    createdAt = try c.decodeIfPresent(Date.self, forKey: .createdAt)
    pulls = try c.decodeIfPresent([NodePull].self, forKey: .pulls) ?? []
  }
}

/// One node's fetch of a set's image from the cluster's store.
public struct NodePull: Codable, Sendable, Equatable {
  public var node: NodeID
  public var pull: ImagePull

  public init(node: NodeID, pull: ImagePull) {
    self.node = node
    self.pull = pull
  }
}

public struct SlotView: Codable, Sendable, Equatable {
  public var index: Int
  public var node: NodeID
  public var address: String
  public var hostPort: Int
  public var containerID: String?
  public var health: SlotHealth
  public var startedAt: Date?
  public var message: String?

  public init(
    index: Int, node: NodeID, address: String, hostPort: Int, containerID: String?,
    health: SlotHealth, startedAt: Date?, message: String?
  ) {
    self.index = index
    self.node = node
    self.address = address
    self.hostPort = hostPort
    self.containerID = containerID
    self.health = health
    self.startedAt = startedAt
    self.message = message
  }

  enum CodingKeys: String, CodingKey {
    case index, node, address, health, message
    case hostPort = "host_port"
    case containerID = "container_id"
    case startedAt = "started_at"
  }
}
