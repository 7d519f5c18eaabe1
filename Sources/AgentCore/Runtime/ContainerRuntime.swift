import Foundation
import SchedModel

/// Runs containers on this host. The agent owns this seam: the Docker Engine API in production,
/// `FakeRuntime` (SchedTestSupport) in tests. One contract suite runs over both.
public protocol ContainerRuntime: Sendable {
  /// Creates a container; `RuntimeError.conflict` when the name is taken (a retried create).
  func create(_ spec: ContainerSpec) async throws(RuntimeError) -> String
  /// Starts a created or stopped container; starting a running one is not an error.
  func start(_ id: String) async throws(RuntimeError)
  /// Asks the container to stop, and kills it after `timeout`; stopping a stopped one is fine.
  func stop(_ id: String, timeout: Duration) async throws(RuntimeError)
  /// Removes the container, stopping it first if needed; removing a missing one is fine.
  func remove(_ id: String) async throws(RuntimeError)
  /// Containers (running or not) carrying every one of `labels`.
  func list(labels: [String: String]) async throws(RuntimeError) -> [ContainerInfo]
  /// One container by id or name; `RuntimeError.notFound` when there is none.
  func inspect(_ id: String) async throws(RuntimeError) -> ContainerInfo
  /// CPU and memory of a running container.
  func stats(_ id: String) async throws(RuntimeError) -> ContainerStats
  /// Pulls the image when it is not present locally.
  func ensureImage(_ image: String) async throws(RuntimeError)
  /// Pulls `reference` (`REPOSITORY:TAG` or `REPOSITORY@DIGEST`) from its registry; `auth` is
  /// the engine's `X-Registry-Auth` value when the registry wants credentials.
  func pull(_ reference: String, auth: String?) async throws(RuntimeError)
  /// Gives image `image` (an id or a reference) the name `reference` too.
  func tag(_ image: String, as reference: String) async throws(RuntimeError)
  /// The id of a local image: the digest of its config, `sha256:...`, the same on every host
  /// that holds the same bits. `RuntimeError.notFound` when it is not here.
  func imageID(_ image: String) async throws(RuntimeError) -> String
  /// Creates a private network (no route out of the host) carrying `labels`; returns its id.
  func createNetwork(name: String, labels: [String: String]) async throws(RuntimeError) -> String
  /// Removes a network; removing a missing one is fine.
  func removeNetwork(_ id: String) async throws(RuntimeError)
  /// The ids of networks carrying every one of `labels`.
  func listNetworks(labels: [String: String]) async throws(RuntimeError) -> [String]
  /// The last `tailBytes` of what the container wrote to stdout and stderr.
  func logs(_ id: String, tailBytes: Int) async throws(RuntimeError) -> String
}

/// What to run: everything the agent decides about a container, and nothing the runtime adds.
public struct ContainerSpec: Sendable, Hashable {
  public enum NetworkMode: String, Sendable, Hashable, Codable {
    /// The container port is published on `hostIP:hostPort`.
    case bridge
    /// The container shares the host's network and listens on `PORT` = `hostPort`.
    case host
  }

  public var name: String
  public var image: String
  public var environment: [String: String]
  public var labels: [String: String]
  public var cpuMillis: Int64
  public var memoryBytes: Int64
  public var networkMode: NetworkMode
  public var containerPort: Int
  public var hostIP: String
  public var hostPort: Int
  /// Restart policy `unless-stopped` when true: the engine restarts it after a crash or reboot.
  public var restartUnlessStopped: Bool
  /// Host access: privileged mode, bind mounts, capabilities, namespaces, devices. The agent
  /// checks it against the node's permissions before a spec gets here.
  public var security: SecurityRequest
  public var command: [String]?
  /// A user network to join instead of `networkMode` (nothing is published), and the names the
  /// container answers to on it.
  public var network: String?
  public var aliases: [String]
  /// The log driver and its options; nil leaves the engine's default.
  public var log: LogConfig?
  /// Secret files the agent wrote on the host, by name: each mounted read-only at
  /// `/run/secrets/NAME` (the agent's own mounts, not the app's `security.binds`).
  public var secretFiles: [String: String] = [:]

  public init(
    name: String, image: String, environment: [String: String] = [:],
    labels: [String: String] = [:], cpuMillis: Int64, memoryBytes: Int64,
    networkMode: NetworkMode = .bridge, containerPort: Int, hostIP: String = "127.0.0.1",
    hostPort: Int, restartUnlessStopped: Bool = true,
    security: SecurityRequest = SecurityRequest(), command: [String]? = nil,
    network: String? = nil, aliases: [String] = [], log: LogConfig? = nil
  ) {
    self.log = log
    self.name = name
    self.image = image
    self.environment = environment
    self.labels = labels
    self.cpuMillis = cpuMillis
    self.memoryBytes = memoryBytes
    self.networkMode = networkMode
    self.containerPort = containerPort
    self.hostIP = hostIP
    self.hostPort = hostPort
    self.restartUnlessStopped = restartUnlessStopped
    self.security = security
    self.command = command
    self.network = network
    self.aliases = aliases
  }
}

/// A container as the runtime reports it.
public struct ContainerInfo: Sendable, Hashable {
  public enum State: String, Sendable, Hashable, Codable {
    case created, running, paused, restarting, removing, exited, dead
  }

  public var id: String
  public var name: String
  public var image: String
  /// The image's id (`sha256:...`), when the runtime reported it.
  public var imageID: String?
  public var labels: [String: String]
  public var state: State
  public var startedAt: Date?
  public var exitCode: Int?
  /// Resource limits as the engine holds them (0 when unlimited).
  public var cpuMillis: Int64
  public var memoryBytes: Int64
  /// `HOST_IP:HOST_PORT` bindings of the container's published ports.
  public var publishedPorts: [String]
  public var restartPolicy: String

  public init(
    id: String, name: String, image: String, labels: [String: String], state: State,
    startedAt: Date? = nil, exitCode: Int? = nil, cpuMillis: Int64 = 0, memoryBytes: Int64 = 0,
    publishedPorts: [String] = [], restartPolicy: String = "", imageID: String? = nil
  ) {
    self.imageID = imageID
    self.id = id
    self.name = name
    self.image = image
    self.labels = labels
    self.state = state
    self.startedAt = startedAt
    self.exitCode = exitCode
    self.cpuMillis = cpuMillis
    self.memoryBytes = memoryBytes
    self.publishedPorts = publishedPorts
    self.restartPolicy = restartPolicy
  }
}

/// CPU and memory of one container at one moment.
public struct ContainerStats: Sendable, Hashable {
  /// CPU used over the engine's last sampling window, in millicores.
  public var cpuMillis: Int64
  public var memoryBytes: Int64

  public init(cpuMillis: Int64, memoryBytes: Int64) {
    self.cpuMillis = cpuMillis
    self.memoryBytes = memoryBytes
  }
}

/// The error of a container runtime.
public struct RuntimeError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    /// No such container or image.
    case notFound = "not_found"
    /// A container with that name already exists.
    case conflict
    /// The engine cannot be reached.
    case unavailable
    /// The engine refused the request as invalid.
    case invalid
    case failed
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
