/// A web service Turnout runs as blue and green sets of identical slots.
public struct AppSpec: Codable, Sendable, Hashable {
  public var name: String
  public var image: String
  /// Slots per set: N containers of the same image.
  public var slots: Int
  /// CPU and memory reserved (and enforced as limits) per slot.
  public var resources: Resources
  /// The port the app listens on inside its container.
  public var containerPort: Int
  public var env: [String: String]
  /// Secrets (`schedctl secret set APP NAME`) the slots get as environment variables of the
  /// same name. Only their names are in the spec; the values never leave the scheduler but
  /// for the nodes that run the app.
  public var secrets: [String]
  /// Secrets the slots get as read-only files `/run/secrets/NAME` instead (not visible in
  /// `docker inspect`).
  public var secretFiles: [String]
  public var health: HealthCheck
  public var network: NetworkMode
  /// Labels a node must carry to run this app's slots.
  public var constraints: [String: String]
  /// At most this many slots of one set on a node.
  public var maxPerNode: Int?
  /// Host access the app asks for; refused unless the node's own config allows it.
  public var security: SecurityRequest
  /// Host names (Host header, no port) routers send to this app.
  public var hosts: [String]
  /// HTTPS at the routers: redirect plain HTTP, and the HSTS header; nil: neither.
  public var https: HTTPSSettings?
  /// After a switch, retire the old set on its own once this long has passed. nil: keep it
  /// warm until `schedctl retire`.
  public var keepWarmMillis: Int64?
  /// How long a retire waits for requests in flight to the old set before stopping it.
  public var drainTimeoutMillis: Int64
  /// Commands run in throwaway containers of the candidate's image before a switch.
  public var tests: [TestSpec]
  /// Checks run against every candidate slot before a switch.
  public var checks: [CheckSpec]
  /// The slots' container log driver; nil leaves the engine's default.
  public var log: LogConfig?
  /// How the app's image is built in the cluster; nil: the defaults.
  public var build: BuildSettings?

  public init(
    name: String, image: String, slots: Int, resources: Resources, containerPort: Int = 8080,
    env: [String: String] = [:], health: HealthCheck = HealthCheck(),
    network: NetworkMode = .bridge,
    constraints: [String: String] = [:], maxPerNode: Int? = nil,
    security: SecurityRequest = SecurityRequest(), hosts: [String] = [],
    keepWarmMillis: Int64? = nil, drainTimeoutMillis: Int64 = 30_000,
    tests: [TestSpec] = [], checks: [CheckSpec] = [], log: LogConfig? = nil,
    build: BuildSettings? = nil, secrets: [String] = [], secretFiles: [String] = []
  ) {
    self.secrets = secrets
    self.secretFiles = secretFiles
    self.log = log
    self.build = build
    self.name = name
    self.image = image
    self.slots = slots
    self.resources = resources
    self.containerPort = containerPort
    self.env = env
    self.health = health
    self.network = network
    self.constraints = constraints
    self.maxPerNode = maxPerNode
    self.security = security
    self.hosts = hosts.map { $0.lowercased() }
    self.keepWarmMillis = keepWarmMillis
    self.drainTimeoutMillis = drainTimeoutMillis
    self.tests = tests
    self.checks = checks
  }

  enum CodingKeys: String, CodingKey {
    case name, image, slots, resources, env, health, network, constraints, security, hosts
    case tests, checks, log, build, secrets, https
    case secretFiles = "secret_files"
    case containerPort = "container_port"
    case maxPerNode = "max_per_node"
    case keepWarmMillis = "keep_warm_ms"
    case drainTimeoutMillis = "drain_timeout_ms"
  }

  /// Specs saved before a field existed decode with its default.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    image = try c.decode(String.self, forKey: .image)
    slots = try c.decode(Int.self, forKey: .slots)
    resources = try c.decode(Resources.self, forKey: .resources)
    containerPort = try c.decodeIfPresent(Int.self, forKey: .containerPort) ?? 8080
    env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
    secrets = try c.decodeIfPresent([String].self, forKey: .secrets) ?? []
    https = try c.decodeIfPresent(HTTPSSettings.self, forKey: .https)
    secretFiles = try c.decodeIfPresent([String].self, forKey: .secretFiles) ?? []
    health = try c.decodeIfPresent(HealthCheck.self, forKey: .health) ?? HealthCheck()
    network = try c.decodeIfPresent(NetworkMode.self, forKey: .network) ?? .bridge
    constraints = try c.decodeIfPresent([String: String].self, forKey: .constraints) ?? [:]
    maxPerNode = try c.decodeIfPresent(Int.self, forKey: .maxPerNode)
    security = try c.decodeIfPresent(SecurityRequest.self, forKey: .security) ?? SecurityRequest()
    hosts = try c.decodeIfPresent([String].self, forKey: .hosts) ?? []
    keepWarmMillis = try c.decodeIfPresent(Int64.self, forKey: .keepWarmMillis)
    drainTimeoutMillis = try c.decodeIfPresent(Int64.self, forKey: .drainTimeoutMillis) ?? 30_000
    tests = try c.decodeIfPresent([TestSpec].self, forKey: .tests) ?? []
    checks = try c.decodeIfPresent([CheckSpec].self, forKey: .checks) ?? []
    log = try c.decodeIfPresent(LogConfig.self, forKey: .log)
    build = try c.decodeIfPresent(BuildSettings.self, forKey: .build)
  }

  /// App names become container names and URL path parts: a safe alphabet only.
  public static func validateName(_ name: String) throws(ModelError) {
    let allowed = name.unicodeScalars.allSatisfy {
      ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
    }
    guard !name.isEmpty, name.count <= 40, allowed, name.first != "-" else {
      throw ModelError(
        .invalidApp,
        "app name '\(name)' is not valid: use 1 to 40 lowercase letters, digits and '-', not starting with '-'"
      )
    }
  }

  /// The most slots a set (or a plan) may have.
  public static let maxSlots = 1000
  /// The most one slot may ask for: far beyond any host, and small enough that sums of
  /// demands never overflow.
  public static let maxDemand = Resources(cpuMillis: 4096 * 1000, memoryBytes: 64 << 40)

  /// Every rule a spec must meet, with messages naming the field.
  public func validate() throws(ModelError) {
    func fail(_ field: String, _ message: String) -> ModelError {
      ModelError(.invalidApp, "\(field): \(message)")
    }
    do { try Self.validateName(name) } catch { throw fail("name", error.message) }
    if let problem = ImageReference.problem(image) { throw fail("image", problem) }
    guard (1...Self.maxSlots).contains(slots) else {
      throw fail("slots", "must be 1 to \(Self.maxSlots), got \(slots)")
    }
    guard resources.cpuMillis > 0 else { throw fail("cpu", "must be more than 0") }
    guard resources.cpuMillis <= Self.maxDemand.cpuMillis else {
      throw fail(
        "cpu",
        "\(Quantity.formatCPU(resources.cpuMillis)) per slot is more than any host has (at most \(Quantity.formatCPU(Self.maxDemand.cpuMillis))); CPU is in cores, or millicores with m: 250m is a quarter core"
      )
    }
    guard resources.memoryBytes <= Self.maxDemand.memoryBytes else {
      throw fail(
        "memory",
        "\(Quantity.formatMemory(resources.memoryBytes)) per slot is more than any host has (at most \(Quantity.formatMemory(Self.maxDemand.memoryBytes)))"
      )
    }
    guard resources.memoryBytes >= 6 << 20 else {
      throw fail(
        "memory",
        "must be at least 6Mi (Docker's minimum), got \(Quantity.formatMemory(resources.memoryBytes))"
      )
    }
    guard (1...65535).contains(containerPort) else {
      throw fail("container_port", "must be 1 to 65535")
    }
    guard health.path.hasPrefix("/") else { throw fail("health.path", "must start with '/'") }
    guard health.intervalMillis >= 100 else {
      throw fail("health.interval", "must be at least 100ms")
    }
    guard health.timeoutMillis >= 10 else { throw fail("health.timeout", "must be at least 10ms") }
    guard health.healthyThreshold >= 1, health.unhealthyThreshold >= 1 else {
      throw fail("health", "thresholds must be at least 1")
    }
    if let maxPerNode, maxPerNode < 1 { throw fail("max_per_node", "must be at least 1") }
    for host in hosts
    where host.isEmpty || host.contains(" ") || host.contains("/") || host.contains(":") {
      throw fail("hosts", "'\(host)' is not a host name (leave out scheme and port)")
    }
    if let keepWarmMillis, keepWarmMillis < 0 { throw fail("keep_warm", "must not be negative") }
    guard drainTimeoutMillis >= 0 else { throw fail("drain_timeout", "must not be negative") }
    try log?.validate()
    for key in env.keys where key.isEmpty || key.contains("=") {
      throw fail("env", "'\(key)' is not a valid variable name")
    }
    if let hsts = https?.hsts, !HTTPSSettings.validHSTS(hsts) {
      throw fail(
        "https.hsts",
        "'\(hsts)' is not a Strict-Transport-Security value (like max-age=31536000; includeSubDomains)"
      )
    }
    if https?.acme == true {
      guard !hosts.isEmpty else {
        throw fail("https.acme", "needs hosts: the names to obtain certificates for")
      }
      if let wildcard = hosts.first(where: { $0.contains("*") }) {
        throw fail(
          "https.acme",
          "'\(wildcard)' cannot be proved over HTTP-01; upload a wildcard certificate with schedctl cert upload instead"
        )
      }
    }
    try validateSecrets()
    try validateChecks()
    try build?.validate()
  }

}

/// How the agent decides a slot is healthy: HTTP GET of `path` answering 2xx or 3xx.
public struct HealthCheck: Codable, Sendable, Hashable {
  public var path: String
  public var intervalMillis: Int64
  public var timeoutMillis: Int64
  /// Consecutive passes before a starting slot counts as healthy.
  public var healthyThreshold: Int
  /// Consecutive failures before a healthy slot counts as unhealthy.
  public var unhealthyThreshold: Int

  public init(
    path: String = "/healthz", intervalMillis: Int64 = 1000, timeoutMillis: Int64 = 1000,
    healthyThreshold: Int = 1, unhealthyThreshold: Int = 3
  ) {
    self.path = path
    self.intervalMillis = intervalMillis
    self.timeoutMillis = timeoutMillis
    self.healthyThreshold = healthyThreshold
    self.unhealthyThreshold = unhealthyThreshold
  }

  enum CodingKeys: String, CodingKey {
    case path
    case intervalMillis = "interval_ms"
    case timeoutMillis = "timeout_ms"
    case healthyThreshold = "healthy_threshold"
    case unhealthyThreshold = "unhealthy_threshold"
  }
}

/// Bridge publishes the container port on the node; host shares the node's network.
public enum NetworkMode: String, Codable, Sendable, Hashable, CaseIterable {
  case bridge
  case host
}

/// Host access an app asks for. Each is refused unless the node allows it.
public struct SecurityRequest: Codable, Sendable, Hashable {
  public var privileged: Bool
  /// Host paths to bind-mount, `HOST:CONTAINER[:ro]`.
  public var binds: [String]
  public var capAdd: [String]
  public var hostPID: Bool
  public var hostIPC: Bool
  public var devices: [String]

  public init(
    privileged: Bool = false, binds: [String] = [], capAdd: [String] = [], hostPID: Bool = false,
    hostIPC: Bool = false, devices: [String] = []
  ) {
    self.privileged = privileged
    self.binds = binds
    self.capAdd = capAdd
    self.hostPID = hostPID
    self.hostIPC = hostIPC
    self.devices = devices
  }

  enum CodingKeys: String, CodingKey {
    case privileged, binds, devices
    case capAdd = "cap_add"
    case hostPID = "host_pid"
    case hostIPC = "host_ipc"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    privileged = try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? false
    binds = try c.decodeIfPresent([String].self, forKey: .binds) ?? []
    capAdd = try c.decodeIfPresent([String].self, forKey: .capAdd) ?? []
    hostPID = try c.decodeIfPresent(Bool.self, forKey: .hostPID) ?? false
    hostIPC = try c.decodeIfPresent(Bool.self, forKey: .hostIPC) ?? false
    devices = try c.decodeIfPresent([String].self, forKey: .devices) ?? []
  }
}

/// What a node's own config lets apps do to its host.
public struct NodePermissions: Codable, Sendable, Hashable {
  public var privileged: Bool
  public var hostMounts: Bool
  public var capabilities: Bool
  public var hostNamespaces: Bool
  public var devices: Bool
  /// `network: host`: the container shares the node's network, so it reaches every port the
  /// host listens on (the scheduler's API on 127.0.0.1 included) and binds any it likes.
  public var hostNetwork: Bool

  public init(
    privileged: Bool = false, hostMounts: Bool = false, capabilities: Bool = false,
    hostNamespaces: Bool = false, devices: Bool = false, hostNetwork: Bool = false
  ) {
    self.hostNetwork = hostNetwork
    self.privileged = privileged
    self.hostMounts = hostMounts
    self.capabilities = capabilities
    self.hostNamespaces = hostNamespaces
    self.devices = devices
  }

  /// Every part of `request` (and of the slot's network mode) this node does not allow, each as
  /// a sentence naming the flag.
  public func violations(of request: SecurityRequest, network: NetworkMode = .bridge) -> [String] {
    var out: [String] = []
    if network == .host && !hostNetwork {
      out.append(
        "network: host is not allowed on this node (sched-agent --allow-host-network)")
    }
    if request.privileged && !privileged {
      out.append("privileged mode is not allowed on this node (sched-agent --allow-privileged)")
    }
    if !request.binds.isEmpty && !hostMounts {
      out.append(
        "host bind mounts \(request.binds) are not allowed on this node (sched-agent --allow-host-mounts)"
      )
    }
    if !request.capAdd.isEmpty && !capabilities {
      out.append(
        "added capabilities \(request.capAdd) are not allowed on this node (sched-agent --allow-capabilities)"
      )
    }
    if (request.hostPID || request.hostIPC) && !hostNamespaces {
      out.append(
        "host pid/ipc namespaces are not allowed on this node (sched-agent --allow-host-namespaces)"
      )
    }
    if !request.devices.isEmpty && !devices {
      out.append(
        "devices \(request.devices) are not allowed on this node (sched-agent --allow-devices)")
    }
    return out
  }
}

/// The container log driver of an app's slots, passed to Docker as it is (`HostConfig.LogConfig`):
/// `json-file` with `max-size`, `fluentd` with `fluentd-address`, `syslog`, `journald`, `none`...
/// Without it the engine's default applies.
public struct LogConfig: Codable, Sendable, Hashable {
  public var driver: String
  public var options: [String: String]

  public init(driver: String, options: [String: String] = [:]) {
    self.driver = driver
    self.options = options
  }

  /// Driver names are plugin references (`fluentd`, `vendor/plugin:tag`): no spaces or controls.
  public func validate() throws(ModelError) {
    let allowed = driver.unicodeScalars.allSatisfy {
      ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
        || "-_./:".unicodeScalars.contains($0)
    }
    guard !driver.isEmpty, driver.count <= 128, allowed else {
      throw ModelError(
        .invalidApp, "log.driver: '\(driver)' is not a log driver name (json-file, fluentd, ...)")
    }
    for key in options.keys where key.isEmpty || key.contains(" ") {
      throw ModelError(.invalidApp, "log.options: '\(key)' is not an option name")
    }
  }
}
