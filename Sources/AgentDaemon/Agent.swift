import AgentCore
import Logging
import NIOCore
import SchedModel
import SchedWire
import ServiceLifecycle
import WireTransport

/// The node agent: dials the scheduler, registers, heartbeats, answers commands, and dials again
/// with jittered backoff whenever the connection is lost.
public final class Agent: Service {
  let config: AgentConfig
  let probe: any HostProbe
  let executor: any CommandExecutor
  let logger: Logger
  /// The cluster this node belongs to; a scheduler of another is refused.
  let cluster: PinnedCluster
  /// Runs builds on a builder node; nil on the others (a build is then refused).
  let builds: BuildRunner?
  /// How this node proves itself: its certificate over TLS, or the token.
  let access: ClusterAccess
  /// How it waits between heartbeats.
  let pacer: any Pacer

  /// `cluster` defaults to a pin held in memory: the first scheduler's id is kept for this
  /// process's life. `sched-agent` keeps it in its state directory.
  public init(
    config: AgentConfig, probe: any HostProbe, executor: any CommandExecutor = NoRuntimeExecutor(),
    cluster: PinnedCluster = PinnedCluster(known: nil, joinNew: false, who: "agent") { _ in },
    builds: BuildRunner? = nil, access: ClusterAccess? = nil, pacer: any Pacer = SleepPacer(),
    logger: Logger
  ) {
    self.pacer = pacer
    self.access =
      access
      ?? .insecure(secret: config.joinToken, role: .agent, name: config.node.rawValue)
    self.builds = builds
    self.cluster = cluster
    self.config = config
    self.probe = probe
    self.executor = executor
    self.logger = logger
  }

  /// Runs until cancelled or shut down; throws only when the scheduler refuses this agent.
  public func run() async throws {
    try await cancelWhenGracefulShutdown { try await self.loop() }
  }

  private func loop() async throws {
    // The certificate is renewed beside the session, on connections of its own.
    let renewal = Task { [access, config, logger] in
      guard !access.isInsecure else { return }
      await CertificateRenewal(
        access: access, host: config.schedulerHost, port: config.schedulerPort, role: .agent,
        node: config.node, logger: logger
      ).run()
    }
    defer { renewal.cancel() }
    var backoff = config.backoff
    var rng = SystemRandomNumberGenerator()
    var gate = CommandGate(generation: 0)
    while !Task.isCancelled {
      let registered = OnceFlag()
      do {
        let dial: ClusterAccess.Dial
        do { dial = try access.sessionDial() } catch {
          throw AgentError(.refused, error.message)
        }
        gate = try await LineClient.withConnection(
          host: config.schedulerHost, port: config.schedulerPort, maxLineBytes: config.maxLineBytes,
          tls: dial.tls
        ) { [gate] connection in
          try await AgentSession(agent: self, connection: connection, gate: gate, dial: dial).run(
            onRegistered: registered.set)
        }
        logger.warning("scheduler closed the connection; reconnecting")
      } catch let error as AgentError where error.code == .refused {
        throw error
      } catch is CancellationError {
        return
      } catch let error as AgentError where error.code == .wrongCluster {
        logger.error(
          "scheduler refused: it serves another cluster; keeping this node's containers and retrying",
          metadata: [
            "scheduler": "\(config.schedulerHost):\(config.schedulerPort)", "error": "\(error)",
          ])
      } catch let error as AgentError {
        logger.warning(
          "session with the scheduler ended; retrying", metadata: ["error": "\(error)"])
      } catch {
        logger.warning(
          "scheduler unreachable; retrying",
          metadata: [
            "scheduler": "\(config.schedulerHost):\(config.schedulerPort)", "error": "\(error)",
          ])
      }
      // A session that got as far as registering starts the next outage from the base delay.
      if registered.isSet { backoff.reset() }
      try? await Task.sleep(for: backoff.next(using: &rng))
    }
  }
}
