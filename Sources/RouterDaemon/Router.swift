import Foundation
import Logging
import RouteTable
import SchedModel
import ServiceLifecycle
import UnixSignals
import WireTransport

/// `sched-router`: the proxy, and the session with the scheduler that feeds it route tables.
/// Serves its saved table from the first moment, before the scheduler answers.
public final class Router: Service {
  public let config: RouterConfig
  let routes: RouteState
  public let proxy: Proxy
  let logger: Logger
  /// The cluster this router joined; a scheduler of another is refused.
  let cluster: PinnedCluster
  /// When this process's router started, in its reports: its counts start from zero then.
  let startedAt = Date()

  /// The epoch of the table served now.
  public var epoch: Int64 { routes.epoch }
  /// The table served now.
  public var table: RouteTable { routes.current.table }

  /// How this router proves itself to the scheduler; nil without a scheduler.
  let access: ClusterAccess?

  private init(
    config: RouterConfig, routes: RouteState, proxy: Proxy, cluster: PinnedCluster,
    access: ClusterAccess?, logger: Logger
  ) {
    self.access = access
    self.cluster = cluster
    self.config = config
    self.routes = routes
    self.proxy = proxy
    self.logger = logger
  }

  /// Loads the saved table and binds the listeners.
  public static func start(config: RouterConfig, logger: Logger) async throws -> Router {
    var access: ClusterAccess? = nil
    if config.schedulerHost != nil {
      do {
        access = try ClusterAccess.configured(
          token: config.token, insecure: config.credentialsDirectory == nil,
          directory: config.credentialsDirectory ?? "", role: .router, name: config.name,
          joinNew: config.joinNewCluster)
      } catch {
        throw RouterError(.config, error.message)
      }
    }
    let routes = try RouteState(stateFile: config.stateFile) { error in
      logger.error("cannot save the route table", metadata: ["error": "\(error)"])
    }
    var edge: EdgeTLS? = nil
    if config.tlsPort != nil {
      let made = try EdgeTLS(logger: logger)
      // Serves HTTPS at once with what the scheduler last sent, even while it is away.
      if let saved = routes.savedCertificates { made.certificates.install(saved) }
      edge = made
    }
    let proxy = try await Proxy.start(config: config, routes: routes, edge: edge)
    logger.info(
      "router listening",
      metadata: [
        "address": "\(config.listenHost):\(proxy.port)",
        "preview": "\(proxy.previewPort.map { "\(config.previewHost):\($0)" } ?? "off")",
        "https":
          "\(proxy.tlsPort.map { "\(config.tlsHost):\($0), \(edge?.certificates.current.certificates.count ?? 0) certificate(s)" } ?? "off")",
        "epoch": "\(routes.epoch)", "apps": "\(routes.current.table.apps.count)",
      ])
    // The cluster joined is kept in the state file with the table (in memory without one).
    let cluster = PinnedCluster(
      known: routes.savedCluster, joinNew: config.joinNewCluster, who: "router"
    ) { id in try routes.pinCluster(id) }
    return Router(
      config: config, routes: routes, proxy: proxy, cluster: cluster, access: access,
      logger: logger)
  }

  /// Serves until cancelled or shut down; throws when the scheduler refuses this router. At a
  /// graceful shutdown (SIGTERM), and after handing its sockets to a new process at an upgrade
  /// (SIGUSR2), it stops accepting and drains before it returns.
  public func run() async throws {
    defer { routes.flush() }
    let ending: Ending
    do {
      ending = try await withThrowingTaskGroup(of: Ending.self) { group in
        group.addTask {
          do {
            try await cancelWhenGracefulShutdown {
              if self.config.schedulerHost == nil {
                while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
              } else {
                try await self.controlLoop()
              }
            }
          } catch is CancellationError {}
          return .shutdown
        }
        if config.upgradeCommand != nil {
          group.addTask { await self.upgradeOnSignal() }
        }
        let first = try await group.next() ?? .shutdown
        group.cancelAll()
        return first
      }
    } catch {
      await proxy.close()
      throw error
    }
    if ending == .handedOver || Task.isShuttingDownGracefully {
      await drain()
    }
    await proxy.close()
  }

  private enum Ending: Sendable {
    case shutdown
    case handedOver
  }

  /// Says this process serves: to the router that started it at an upgrade (which then
  /// drains), and to systemd (`Type=notify`, `NotifyAccess=all`).
  public static func announceServing() {
    // systemd hears of the new main process before the old one may exit.
    SystemdNotify.send("MAINPID=\(getpid())\nREADY=1")
    Handover.signalReady()
  }

  /// Stops accepting and waits for the connections to finish their answers.
  func drain() async {
    let clock = ContinuousClock()
    let started = clock.now
    let left = await proxy.drain(timeout: config.drainTimeout)
    let took = String(format: "%.2f", (clock.now - started).seconds)
    if left == 0 {
      logger.info("drained", metadata: ["seconds": "\(took)"])
    } else {
      logger.warning(
        "drain timeout: cutting connections still open",
        metadata: ["connections": "\(left)", "seconds": "\(took)"])
    }
  }

  /// Waits for SIGUSR2; at each, starts the router program again with this one's sockets.
  /// Returns once a new process serves (this one then drains), or when cancelled.
  private func upgradeOnSignal() async -> Ending {
    for await _ in await UnixSignalsSequence(trapping: .sigusr2) {
      if await handOver() { return .handedOver }
    }
    return .shutdown
  }

  /// One upgrade: a new process with the listening sockets, waited for until it serves. A new
  /// process that fails is killed and this one keeps serving.
  func handOver() async -> Bool {
    guard let command = config.upgradeCommand else { return false }
    logger.notice(
      "upgrade: starting a new router with this one's sockets",
      metadata: ["program": "\(command.executable)"])
    let child: Handover.Child
    do {
      child = try Handover.start(
        executable: command.executable, arguments: command.arguments,
        sockets: proxy.listenerFDs)
    } catch {
      logger.error("upgrade failed; still serving", metadata: ["error": "\(error)"])
      return false
    }
    guard await Handover.awaitReady(child, timeout: config.upgradeTimeout) else {
      kill(child.pid, SIGKILL)
      logger.error(
        "upgrade failed: the new router did not serve within \(config.upgradeTimeout); killed it, still serving",
        metadata: ["pid": "\(child.pid)"])
      return false
    }
    logger.notice(
      "upgrade: the new router serves; this one stops accepting and drains",
      metadata: ["pid": "\(child.pid)"])
    return true
  }

  private func controlLoop() async throws {
    guard let host = config.schedulerHost, let access else { return }
    // The certificate is renewed beside the session, on connections of its own.
    let renewal = Task { [config, logger] in
      guard !access.isInsecure else { return }
      await CertificateRenewal(
        access: access, host: host, port: config.schedulerPort, role: .router,
        node: NodeID(config.name), logger: logger
      ).run()
    }
    defer { renewal.cancel() }
    var backoff = Backoff()
    var rng = SystemRandomNumberGenerator()
    while !Task.isCancelled {
      let welcomed = OnceFlag()
      do {
        let (routes, proxy, cluster, logger) = (self.routes, self.proxy, self.cluster, self.logger)
        let dial: ClusterAccess.Dial
        do { dial = try access.sessionDial() } catch {
          throw RouterError(.refused, error.message)
        }
        try await LineClient.withConnection(
          host: host, port: config.schedulerPort, maxLineBytes: config.maxLineBytes, tls: dial.tls,
          handlers: { channel in
            try channel.pipeline.syncOperations.addHandler(
              RouteControlHandler(routes: routes, proxy: proxy, cluster: cluster, logger: logger))
          }
        ) { connection in
          try await ControlSession(router: self, connection: connection, dial: dial).run(
            onWelcome: welcomed.set)
        }
        logger.warning("scheduler closed the connection; reconnecting")
      } catch let error as RouterError where error.code == .refused {
        throw error
      } catch is CancellationError {
        return
      } catch let error as RouterError where error.code == .wrongCluster {
        logger.error(
          "scheduler refused: it serves another cluster; serving epoch \(routes.epoch) and retrying",
          metadata: ["scheduler": "\(host):\(config.schedulerPort)", "error": "\(error)"])
      } catch {
        logger.warning(
          "scheduler unreachable; serving epoch \(routes.epoch) and retrying",
          metadata: ["scheduler": "\(host):\(config.schedulerPort)", "error": "\(error)"])
      }
      if welcomed.isSet { backoff.reset() }
      try? await Task.sleep(for: backoff.next(using: &rng))
    }
  }
}
