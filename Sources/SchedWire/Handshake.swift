import SchedModel

/// The dialer's first line: who it is, which versions it speaks, and how it proves it: the
/// secret of its join token (a node joining, or any node on an `--insecure-cluster`), or
/// nothing here when its TLS certificate names it (`token` empty).
public struct Hello: WireBody {
  public static let type = MessageType.hello
  public var role: PeerRole
  public var versions: [Int]
  /// The node id for an agent, the router's name for a router.
  public var node: NodeID
  public var token: String
  /// A router's preview listener, `HOST:PORT` (`:PORT` when it listens on every address): the
  /// scheduler's checks reach the candidate set through it.
  public var preview: String?
  /// A certificate request (PEM) from a node joining over TLS, or renewing at dial: the
  /// welcome carries the certificate.
  public var csr: String?
  /// True on a connection opened only to renew the certificate (with `csr`): the scheduler
  /// answers with the welcome and its certificate, then closes. The node's session is not
  /// touched.
  public var renew: Bool?
  /// True from a router with an HTTPS listener: only such routers are sent certificates
  /// (and their keys).
  public var https: Bool?

  public init(
    role: PeerRole, versions: [Int], node: NodeID, token: String, preview: String? = nil,
    csr: String? = nil, renew: Bool? = nil, https: Bool? = nil
  ) {
    self.https = https
    self.role = role
    self.versions = versions
    self.node = node
    self.token = token
    self.preview = preview
    self.csr = csr
    self.renew = renew
  }
}

/// The scheduler's answer to a good `hello`: the version chosen, the heartbeat contract, and
/// the cluster's id, which agents and routers remember and check on every later welcome.
public struct Welcome: WireBody {
  public static let type = MessageType.welcome
  public var version: Int
  public var heartbeatMillis: Int64
  /// Silence longer than this marks the node down.
  public var ttlMillis: Int64
  /// The id made with the scheduler's database; nil only from a scheduler older than it.
  public var cluster: String?
  /// The certificate issued for the hello's request, then the cluster CA's (PEM, leaf first).
  public var certificate: String?

  public init(
    version: Int, heartbeatMillis: Int64, ttlMillis: Int64, cluster: String? = nil,
    certificate: String? = nil
  ) {
    self.version = version
    self.heartbeatMillis = heartbeatMillis
    self.ttlMillis = ttlMillis
    self.cluster = cluster
    self.certificate = certificate
  }

  enum CodingKeys: String, CodingKey {
    case version, cluster, certificate
    case heartbeatMillis = "heartbeat_ms"
    case ttlMillis = "ttl_ms"
  }
}

/// An agent's registration: the node and its capacity.
public struct Register: WireBody {
  public static let type = MessageType.register
  public var node: NodeSpec

  public init(node: NodeSpec) { self.node = node }
}

/// The scheduler accepted a registration; commands to this node carry `generation`.
public struct Registered: WireBody {
  public static let type = MessageType.registered
  public var generation: Int64

  public init(generation: Int64) { self.generation = generation }
}

/// Periodic proof of life with the host's usage and every managed slot's state.
/// The scheduler does not reply.
public struct Heartbeat: WireBody {
  public static let type = MessageType.heartbeat
  public var usage: HostUsage
  public var slots: [SlotStatus]
  /// Corrections the agent made since its last heartbeat; left out when there are none.
  public var drift: [DriftReport]
  /// Images this node is fetching from the store, or fetched or failed to since its last
  /// assignment; left out when there are none.
  public var pulls: [ImagePull]

  public init(
    usage: HostUsage, slots: [SlotStatus] = [], drift: [DriftReport] = [], pulls: [ImagePull] = []
  ) {
    self.usage = usage
    self.slots = slots
    self.drift = drift
    self.pulls = pulls
  }

  enum CodingKeys: String, CodingKey { case usage, slots, drift, pulls }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    usage = try container.decode(HostUsage.self, forKey: .usage)
    slots = try container.decodeIfPresent([SlotStatus].self, forKey: .slots) ?? []
    drift = try container.decodeIfPresent([DriftReport].self, forKey: .drift) ?? []
    pulls = try container.decodeIfPresent([ImagePull].self, forKey: .pulls) ?? []
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(usage, forKey: .usage)
    try container.encode(slots, forKey: .slots)
    if !drift.isEmpty { try container.encode(drift, forKey: .drift) }
    if !pulls.isEmpty { try container.encode(pulls, forKey: .pulls) }
  }
}
