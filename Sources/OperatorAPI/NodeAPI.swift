import SchedModel

// The operator API's JSON bodies, shared by `schedd` and `schedctl`.

/// A node as `GET /v1/nodes` shows it.
public struct NodeView: Codable, Sendable, Equatable {
  public var id: NodeID
  public var name: String
  public var address: String
  public var state: NodeState
  public var generation: Int64
  public var capacity: Resources
  /// Reserved by placed slots.
  public var allocated: Resources
  /// Capacity less allocations: what placement can still hand out.
  public var free: Resources
  /// Measured on the host by the agent, from its last heartbeat.
  public var usage: HostUsage?
  public var ports: PortRange
  public var labels: [String: String]
  /// Milliseconds since the last heartbeat, at the time of the response.
  public var heartbeatAgeMillis: Int64?

  public init(
    id: NodeID, name: String, address: String, state: NodeState, generation: Int64,
    capacity: Resources, allocated: Resources, free: Resources, usage: HostUsage?,
    ports: PortRange, labels: [String: String], heartbeatAgeMillis: Int64?
  ) {
    self.id = id
    self.name = name
    self.address = address
    self.state = state
    self.generation = generation
    self.capacity = capacity
    self.allocated = allocated
    self.free = free
    self.usage = usage
    self.ports = ports
    self.labels = labels
    self.heartbeatAgeMillis = heartbeatAgeMillis
  }

  enum CodingKeys: String, CodingKey {
    case id, name, address, state, generation, capacity, allocated, free, usage, ports, labels
    case heartbeatAgeMillis = "heartbeat_age_ms"
  }
}

public struct NodesResponse: Codable, Sendable, Equatable {
  public var nodes: [NodeView]
  /// Re-placement of down nodes' slots: braked or not, and the slots that fit nowhere.
  public var replacement: ReplacementStatus?

  public init(nodes: [NodeView], replacement: ReplacementStatus? = nil) {
    self.nodes = nodes
    self.replacement = replacement
  }
}

/// How re-placement of down nodes' slots stands (`GET /v1/nodes`, an app's status, and the
/// answer to `POST /v1/replacement/resume`).
public struct ReplacementStatus: Codable, Sendable, Equatable {
  /// True while more than half of the nodes are down and no operator said to go on:
  /// nothing is re-placed.
  public var braked: Bool
  /// Why the brake engaged (also while overridden).
  public var reason: String?
  /// The operator who said to re-place anyway.
  public var overriddenBy: String?
  /// Slots on down nodes that are not re-placed, with why.
  public var missing: [Missing]

  /// A slot of a down node that is not re-placed.
  public struct Missing: Codable, Sendable, Equatable {
    public var slot: SlotID
    public var reason: String
    public init(slot: SlotID, reason: String) {
      self.slot = slot
      self.reason = reason
    }
  }

  public init(
    braked: Bool = false, reason: String? = nil, overriddenBy: String? = nil,
    missing: [Missing] = []
  ) {
    self.braked = braked
    self.reason = reason
    self.overriddenBy = overriddenBy
    self.missing = missing
  }

  enum CodingKeys: String, CodingKey {
    case braked, reason, missing
    case overriddenBy = "overridden_by"
  }

  /// Nothing to say: not braked, nothing missing.
  public var isQuiet: Bool { !braked && reason == nil && missing.isEmpty }
}

/// `GET /v1/placement`: every slot and its node, and what each node has left.
public struct PlacementResponse: Codable, Sendable, Equatable {
  public var slots: [Allocation]
  public var nodes: [NodeView]
  public init(slots: [Allocation], nodes: [NodeView]) {
    self.slots = slots
    self.nodes = nodes
  }
}

/// `POST /v1/plan`: where a set of this shape would go. Changes nothing.
public struct PlanRequest: Codable, Sendable, Equatable {
  public var slots: Int
  public var cpuMillis: Int64
  public var memoryBytes: Int64
  public var labels: [String: String]?
  public var maxPerNode: Int?

  public init(
    slots: Int, cpuMillis: Int64, memoryBytes: Int64, labels: [String: String]? = nil,
    maxPerNode: Int? = nil
  ) {
    self.slots = slots
    self.cpuMillis = cpuMillis
    self.memoryBytes = memoryBytes
    self.labels = labels
    self.maxPerNode = maxPerNode
  }

  enum CodingKeys: String, CodingKey {
    case slots, labels
    case cpuMillis = "cpu_millis"
    case memoryBytes = "memory_bytes"
    case maxPerNode = "max_per_node"
  }
}

public struct PlanResponse: Codable, Sendable, Equatable {
  public struct Placed: Codable, Sendable, Equatable {
    public var index: Int
    public var node: NodeID
    public var hostPort: Int
    public init(index: Int, node: NodeID, hostPort: Int) {
      self.index = index
      self.node = node
      self.hostPort = hostPort
    }
    enum CodingKeys: String, CodingKey {
      case index, node
      case hostPort = "host_port"
    }
  }

  public struct Unplaced: Codable, Sendable, Equatable {
    public var index: Int
    public var reason: String
    public init(index: Int, reason: String) {
      self.index = index
      self.reason = reason
    }
  }

  public var fits: Bool
  public var placed: [Placed]
  public var unplaced: [Unplaced]

  public init(fits: Bool, placed: [Placed], unplaced: [Unplaced]) {
    self.fits = fits
    self.placed = placed
    self.unplaced = unplaced
  }
}

public struct EventsResponse: Codable, Sendable, Equatable {
  public var events: [ClusterEvent]
  public init(events: [ClusterEvent]) { self.events = events }
}

/// The body of every API error: what went wrong and a stable code for scripts.
public struct APIErrorBody: Codable, Sendable, Equatable {
  public var error: String
  public var code: String
  public init(error: String, code: String) {
    self.error = error
    self.code = code
  }
}

/// `DELETE /v1/nodes/NODE`: a node removed, and how many of its certificates were revoked.
public struct NodeRemoved: Codable, Sendable, Equatable {
  public var node: String
  public var certificatesRevoked: Int

  public init(node: String, certificatesRevoked: Int) {
    self.node = node
    self.certificatesRevoked = certificatesRevoked
  }

  enum CodingKeys: String, CodingKey {
    case node
    case certificatesRevoked = "certificates_revoked"
  }
}

/// `POST /v1/tokens/ROLE/rotate`: the new token (`join` or `router`).
public struct TokenRotated: Codable, Sendable, Equatable {
  public var role: String
  public var token: String

  public init(role: String, token: String) {
    self.role = role
    self.token = token
  }
}

/// `GET /v1/cluster/join`: what a new node needs to join this cluster.
public struct JoinInfo: Codable, Sendable, Equatable {
  /// The cluster address nodes dial; nil when the scheduler was not told it (it listens on
  /// every address: start it with --advertise-cluster).
  public var scheduler: String?
  /// The whole join token (`TRN-1-<CA fingerprint>-<secret>`), or the bare secret when the
  /// cluster port is plain TCP (`--insecure-cluster`).
  public var token: String
  public var cluster: String
  /// The router token, the same way; nil when routers are refused.
  public var routerToken: String?

  public init(scheduler: String?, token: String, cluster: String, routerToken: String? = nil) {
    self.scheduler = scheduler
    self.token = token
    self.cluster = cluster
    self.routerToken = routerToken
  }
}
