import AgentCore
import AgentDaemon
import ArgumentParser
import Blobs
import BuildInfo
import DockerRuntime
import Foundation
import Logging
import SchedModel
import SchedWire
import ServiceLifecycle
import WireTransport

@main
struct SchedAgent: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sched-agent",
    abstract: "The Turnout node agent: reports this host's capacity and usage to the scheduler.",
    discussion: """
      The agent always dials the scheduler (it works behind NAT), registers this host's CPUs and \
      memory from /proc, heartbeats, and reconnects with jittered backoff when the scheduler is \
      away.

      Every flag can also come from the environment: TURNOUT_SCHEDULER, TURNOUT_JOIN_TOKEN, \
      TURNOUT_NODE_NAME, TURNOUT_NODE_ID, TURNOUT_ADVERTISE, TURNOUT_PORTS, TURNOUT_LABELS.

      Example:
        sched-agent --scheduler 10.0.0.2:7100 \\
          --token "$(cat /etc/turnout/join-token)" --name web-1 \\
          --advertise 10.0.0.5 --ports 20000-20999 --labels zone=home
      """,
    version: BuildInfo.line("sched-agent"))

  @Option(help: "Scheduler cluster address HOST:PORT (default 127.0.0.1:7100).")
  var scheduler: String?

  @Option(
    help: ArgumentHelp(
      "The join token (TRN-1-..., from schedctl node join-command).",
      discussion:
        "Needed only to join: the node checks the scheduler against the CA the token names, asks for its own certificate and keeps it in --state-dir/tls; later connections present that certificate."
    ))
  var token: String?

  @Flag(
    help: ArgumentHelp(
      "Speak plain TCP to a scheduler started with --insecure-cluster (tests of that path only).",
      discussion: "The token's secret then crosses the network in clear."))
  var insecureCluster = false

  @Option(help: "Node name (default: the host name).")
  var name: String?

  @Option(help: "Stable node id (default: the name).")
  var nodeID: String?

  @Option(help: "Address routers use to reach this node's slots (default 127.0.0.1).")
  var advertise: String?

  @Option(help: "Host ports lent to slots, LOW-HIGH (default 20000-20999).")
  var ports: String?

  @Option(help: "Node labels key=value[,key=value].")
  var labels: String?

  @Flag(
    help: ArgumentHelp(
      "Build images here: this node takes `schedctl build` and webhook builds (label builder=true).",
      discussion:
        "Builds run through this host's engine with its layer cache; results go to the scheduler's image store."
    ))
  var builder = false

  @Option(
    help: ArgumentHelp(
      "On a builder, the most disk the engine's image layers may take after a build (like 20Gi).",
      discussion:
        "Past it, the oldest images builds made are removed (with their cached steps); never one a container uses."
    ))
  var buildCacheLimit: String = "20Gi"

  @Option(help: "Container runtime: docker, or none for an agent that only reports the host.")
  var runtime: RuntimeChoice = .docker

  @Option(help: "Docker Engine socket.")
  var dockerSocket: String = "/var/run/docker.sock"

  @Option(help: "Address containers' ports are published on (default: the advertise address).")
  var publishAddress: String?

  @Flag(help: "Let apps run privileged containers on this node.")
  var allowPrivileged = false

  @Flag(help: "Let apps bind-mount host paths on this node.")
  var allowHostMounts = false

  @Flag(help: "Let apps add Linux capabilities on this node.")
  var allowCapabilities = false

  @Flag(help: "Let apps share the host's pid and ipc namespaces on this node.")
  var allowHostNamespaces = false

  @Flag(help: "Let apps use host devices on this node.")
  var allowDevices = false

  @Flag(
    help:
      "Let apps use network: host on this node (they then reach every port the host listens on)."
  )
  var allowHostNetwork = false

  @Option(
    help: ArgumentHelp(
      "Where the agent keeps its state: the id of the cluster it joined.",
      discussion: "Default /var/lib/turnout/agent."))
  var stateDir: String?

  @Flag(
    help: ArgumentHelp(
      "Follow a scheduler of another cluster than the one this node joined.",
      discussion:
        "Without it, a scheduler with another cluster id (a new or wrong --db) is refused and the node keeps its containers."
    ))
  var joinNewCluster = false

  @Option(
    help: ArgumentHelp(
      "Loopback address of the registry endpoint this node's engine pulls cluster images from.",
      discussion:
        "Engines pull from 127.0.0.0/8 without TLS by default; port 0 picks a free one. Nothing outside this host reaches it."
    ))
  var pullListen: String = "127.0.0.1:0"

  @Option(help: "Longest reconnect delay.")
  var maxBackoff: String = "5s"

  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel: Logger.Level = .info

  func run() async throws {
    let config = try makeConfig(ProcessInfo.processInfo.environment)
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = logLevel
      return handler
    }
    var logger = Logger(label: "sched-agent")
    logger[metadataKey: "node.id"] = "\(config.node)"
    var services: [any Service] = []
    let executor: any CommandExecutor
    var builds: BuildRunner?
    let stateDir =
      stateDir ?? ProcessInfo.processInfo.environment["TURNOUT_STATE_DIR"]
      ?? "/var/lib/turnout/agent"
    let cluster: PinnedCluster
    let access: ClusterAccess
    do {
      cluster = try PinnedCluster.file(
        stateDir + "/cluster-id", joinNew: joinNewCluster, who: "agent")
      access = try ClusterAccess.configured(
        token: config.joinToken, insecure: insecureCluster, directory: stateDir + "/tls",
        role: .agent, name: config.node.rawValue, joinNew: joinNewCluster)
    } catch {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(78)
    }
    switch runtime {
    case .docker:
      let docker = DockerRuntime(socketPath: dockerSocket)
      let puller: ImagePuller
      do {
        let store = SchedulerBlobSource(
          host: config.schedulerHost, port: config.schedulerPort, node: config.node,
          access: access, cluster: cluster)
        let cache = ImageCache(
          blobs: try BlobDirectory(root: stateDir + "/blobs"), source: store, logger: logger)
        if builder {
          builds = BuildRunner(
            builder: docker, source: store, destination: store, workRoot: stateDir + "/builds",
            cacheLimit: try Quantity.parseMemory(buildCacheLimit), logger: logger)
        }
        let address = try Parsing.hostPort(pullListen)
        // Engines pull without TLS only from loopback, and the blobs are the cluster's: the
        // endpoint never listens where another host could reach it.
        guard address.host.hasPrefix("127.") || address.host == "::1" || address.host == "[::1]"
        else {
          throw ValidationError(
            "--pull-listen must be a loopback address (127.0.0.1:PORT): the engine on this host is its only client"
          )
        }
        let endpoint = try await PullEndpoint.bind(
          host: address.host, port: address.port, cache: cache, logger: logger)
        services.append(endpoint)
        puller = ImagePuller(
          runtime: docker, cache: cache, repository: endpoint.repository, logger: logger)
      } catch {
        FileHandle.standardError.write(
          Data("error: cannot set up image pulls from the cluster's store: \(error)\n".utf8))
        throw ExitCode(78)
      }
      let slots = SlotManager(
        node: config.node, runtime: docker,
        prober: HTTPHealthProber(),
        permissions: NodePermissions(
          privileged: allowPrivileged, hostMounts: allowHostMounts, capabilities: allowCapabilities,
          hostNamespaces: allowHostNamespaces, devices: allowDevices,
          hostNetwork: allowHostNetwork),
        publishAddress: publishAddress ?? config.advertiseAddress, puller: puller,
        secretDirectory: stateDir + "/secrets", logger: logger)
      services.append(slots)
      executor = slots
    case .none:
      if builder {
        throw ValidationError("--builder needs a container runtime: leave out --runtime none")
      }
      executor = NoRuntimeExecutor()
    }
    if let known = cluster.known {
      logger.info("member of cluster \(known)", metadata: ["cluster.id": "\(known)"])
    }
    let agent = Agent(
      config: config, probe: ProcHostProbe(), executor: executor, cluster: cluster,
      builds: builds, access: access, logger: logger)
    services.append(agent)
    let group = ServiceGroup(
      services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    do {
      try await group.run()
    } catch let error as AgentError where error.code == .refused {
      FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
      throw ExitCode(77)
    }
  }

  func makeConfig(_ env: [String: String]) throws -> AgentConfig {
    do {
      let address = try Parsing.hostPort(scheduler ?? env["TURNOUT_SCHEDULER"] ?? "127.0.0.1:7100")
      let token = token ?? env["TURNOUT_JOIN_TOKEN"] ?? ""
      let name = name ?? env["TURNOUT_NODE_NAME"] ?? ProcessInfo.processInfo.hostName
      let id = try NodeID.validate(nodeID ?? env["TURNOUT_NODE_ID"] ?? name)
      return AgentConfig(
        schedulerHost: address.host, schedulerPort: address.port, joinToken: token, node: id,
        name: name, advertiseAddress: advertise ?? env["TURNOUT_ADVERTISE"] ?? "127.0.0.1",
        ports: try PortRange.parse(ports ?? env["TURNOUT_PORTS"] ?? "20000-20999"),
        labels: try LabelParser.parse(labels ?? env["TURNOUT_LABELS"] ?? "").merging(
          builder ? [BuildSettings.builderLabel: "true"] : [:]
        ) { _, flag in flag },
        backoff: Backoff(base: .milliseconds(200), cap: try Parsing.duration(maxBackoff)))
    } catch {
      throw ValidationError(error.message)
    }
  }
}

/// Which container runtime the agent drives.
enum RuntimeChoice: String, ExpressibleByArgument, CaseIterable {
  case docker
  case none
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
