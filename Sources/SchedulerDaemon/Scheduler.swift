import Blobs
import Crypto
import Foundation
import Hummingbird
import HummingbirdTLS
import Lifecycle
import Logging
import NIOCore
import NIOPosix
import OperatorAPI
import SchedModel
import SchedStore
import SchedWire
import ServiceLifecycle
import WireTransport

/// The scheduler: the cluster port for agents, the API port for operators, and the liveness
/// sweep, all stopped together when `run` is cancelled or a graceful shutdown arrives.
public final class Scheduler: Service {
  public let cluster: Cluster
  public let apps: AppService
  public let routers: RouterHub
  public let images: ImageService
  public let builds: BuildService
  public let config: SchedulerConfig
  /// The id of the cluster this scheduler's database holds, sent in every welcome.
  public let clusterID: String
  /// The cluster CA and the cluster port's TLS; nil on an `--insecure-cluster`.
  public let authority: ClusterAuthority?
  /// The join secrets in force.
  public let secrets: JoinSecrets
  /// The operators' API tokens.
  public let operators: OperatorTokens
  /// HTTPS on the API port; nil for plain HTTP.
  let apiTLS: APIServerTLS?
  /// The certificates routers serve HTTPS with.
  let served: ServedCertificates
  /// Certificates over ACME; nil without `--acme-directory`.
  let acme: ACMEService?
  private let lineServer: LineServer
  private let apiPortPromise: EventLoopPromise<Int>
  private let logger: Logger

  /// The cluster port actually bound.
  public var clusterPort: Int { lineServer.port }

  /// The API port actually bound; waits until the HTTP server is listening.
  public func apiPort() async throws -> Int { try await apiPortPromise.futureResult.get() }

  private init(
    cluster: Cluster, clusterID: String, apps: AppService, routers: RouterHub,
    images: ImageService, builds: BuildService, config: SchedulerConfig,
    authority: ClusterAuthority?, secrets: JoinSecrets, operators: OperatorTokens,
    apiTLS: APIServerTLS?, served: ServedCertificates, acme: ACMEService?, lineServer: LineServer,
    logger: Logger
  ) {
    self.served = served
    self.acme = acme
    self.authority = authority
    self.secrets = secrets
    self.operators = operators
    self.apiTLS = apiTLS
    self.cluster = cluster
    self.clusterID = clusterID
    self.images = images
    self.builds = builds
    self.routers = routers
    self.apps = apps
    self.config = config
    self.lineServer = lineServer
    self.logger = logger
    self.apiPortPromise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Int.self)
  }

  /// Opens the state, loads the cluster and binds the cluster port. Nothing is served until `run`.
  public static func start(
    config: SchedulerConfig, store: any StateStore, logger: Logger,
    now: @escaping @Sendable () -> Date = Date.init,
    timers: any LifecycleTimers = SleepingTimers()
  ) async throws -> Scheduler {
    let policy = LivenessPolicy(
      heartbeatInterval: config.heartbeatInterval, missedBeats: config.missedBeats,
      restartGrace: config.restartGrace)
    let cluster = try await Cluster(store: store, policy: policy, logger: logger, now: now)
    let clusterID = try await store.clusterID()
    let desired = try await AppService.load(store)
    let images = try await ImageService(
      blobs: BlobDirectory(root: config.resolvedImageDirectory), store: store, now: now,
      keepRecent: config.keepRecentImages, logger: logger)
    let seal =
      try config.resolvedSecretsKeyPath.map { path throws(SchedulerError) in
        try SecretSeal.load(path: path)
      } ?? SecretSeal.processKey
    let secrets = try await JoinSecrets.load(
      config: config, store: store, seal: seal, logger: logger)
    let operators = try await OperatorTokens.load(bootstrap: config.apiToken, store: store)
    var authority: ClusterAuthority? = nil
    if let directory = config.resolvedPKIDirectory {
      authority = try ClusterAuthority.load(
        directory: directory, store: store, validity: config.certificateValidity, now: now,
        logger: logger)
    } else {
      logger.warning(
        "the cluster port speaks plain TCP (--insecure-cluster): join tokens, commands and app settings cross the network in clear. Use it only for tests, on one host"
      )
    }
    let apiTLS = try config.apiTLS.map { source throws(SchedulerError) in
      try APIServerTLS(
        source: source, authority: authority?.tls.authority, now: now(),
        validity: config.certificateValidity)
    }
    let server = try await LineServer.bind(
      host: config.clusterHost, port: config.clusterPort, maxLineBytes: config.maxLineBytes,
      rawLength: { PutBlob.rawLength(after: $0) }, tls: authority?.tls,
      handlers: { try $0.pipeline.syncOperations.addHandler(RouterAnswerTap()) })
    let loaded = await cluster.snapshot().count
    logger.info(
      "cluster port listening",
      metadata: [
        "address": "\(config.clusterHost):\(server.port)", "nodes.loaded": "\(loaded)",
        "cluster.id": "\(clusterID)",
        "cluster.tls": "\(authority.map { "ca \($0.fingerprint.prefix(16))" } ?? "off")",
      ])
    let routers = RouterHub(logger: logger, now: cluster.now)
    let apps = AppService(
      cluster: cluster, routers: routers, images: images,
      secrets: AppSecrets(seal: seal, store: store), desired: desired, timers: timers,
      commandTimeout: config.commandTimeout,
      switchTimeout: config.switchTimeout, logger: logger)
    let builds = await BuildService(
      cluster: cluster, apps: apps, images: images, maxContextBytes: config.maxBuildContextBytes,
      logger: logger)
    let served = try await ServedCertificates.load(
      store: store, seal: seal, routers: routers, now: cluster.now)
    var acme: ACMEService? = nil
    if let settings = config.acme {
      acme = try await ACMEService.load(
        settings: settings, served: served, routers: routers, apps: apps, store: store,
        seal: seal, logger: logger, now: cluster.now)
    }
    let scheduler = Scheduler(
      cluster: cluster, clusterID: clusterID, apps: apps, routers: routers, images: images,
      builds: builds, config: config, authority: authority, secrets: secrets,
      operators: operators, apiTLS: apiTLS, served: served, acme: acme,
      lineServer: server, logger: logger)
    await scheduler.routers.onNewerEpoch { [apps = scheduler.apps] epoch in
      await apps.perform(.routerEpoch(epoch))
    }
    return scheduler
  }

  /// The operator API's routes over this scheduler's services.
  func makeRoutes() -> APIRoutes {
    APIRoutes(
      cluster: cluster, apps: apps, routers: routers, images: images, builds: builds,
      operators: operators, served: served, acme: acme,
      tokens: JoinTokens(
        secrets: secrets, authority: authority, scheduler: config.advertisedCluster,
        cluster: clusterID))
  }

  /// Every route of the API as `METHOD /path` (`{name}` for a parameter), for tests that walk
  /// them all.
  public var apiRoutes: [String] { makeRoutes().router().routes.map(\.description) }

  /// Serves until cancelled or told to shut down gracefully: on graceful shutdown the API
  /// finishes the requests in flight, the cluster port and the sweep stop.
  public func run() async throws {
    let authority = self.authority
    let apiTLS = self.apiTLS
    let policy = LivenessPolicy(
      heartbeatInterval: config.heartbeatInterval, missedBeats: config.missedBeats,
      restartGrace: config.restartGrace)
    let session = ClusterSession(
      cluster: cluster,
      admission: Admission(
        tokens: [:], heartbeatMillis: config.heartbeatInterval.milliseconds,
        ttlMillis: policy.ttl.milliseconds, cluster: clusterID,
        requireCertificates: authority != nil),
      secrets: secrets,
      helloTimeout: config.helloTimeout, logger: logger,
      onRegistered: { [apps] node in await apps.push(to: node) }, routers: routers,
      onHeartbeat: { [apps] in await apps.clusterChanged() }, images: images,
      onBuildLog: { [builds] log, node in await builds.received(log, from: node) },
      authority: authority)
    let routes = makeRoutes()
    let promise = apiPortPromise
    let logger = self.logger
    let app = Application(
      router: routes.router(),
      server: try apiTLS.map { try .tls(.http1(), tlsConfiguration: $0.configuration()) }
        ?? .http1(),
      configuration: .init(
        address: .hostname(config.apiHost, port: config.apiPort), serverName: "schedd"),
      onServerRunning: { channel in
        let port = channel.localAddress?.port ?? 0
        logger.info(
          "API listening",
          metadata: [
            "address": "\(channel.localAddress?.description ?? "?")",
            "api.https": "\(apiTLS.map { "until \($0.notAfter)" } ?? "off")",
          ])
        promise.succeed(port)
      },
      logger: logger)
    let cluster = self.cluster
    let apps = self.apps
    // A node is marked down within 100 ms of its TTL (the sweep only reads a few dates).
    let sweepEvery = min(config.heartbeatInterval / 4, .milliseconds(100))
    let refreshEvery = max(1, Int((config.heartbeatInterval / sweepEvery).rounded(.up)))
    defer { promise.fail(CancellationError()) }
    // An in-memory scheduler's image store is a temporary directory: it goes with the run.
    defer {
      if config.imageDirectory == nil, config.databasePath == ":memory:" {
        try? FileManager.default.removeItem(atPath: images.blobs.root)
      }
      if config.clusterSecurity == .tls(pkiDirectory: nil), config.databasePath == ":memory:",
        let authority
      {
        try? FileManager.default.removeItem(atPath: authority.directory)
      }
    }
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask {
        do {
          try await cancelWhenGracefulShutdown {
            try await self.lineServer.run(logger: logger) { connection in
              await session.run(connection)
            }
          }
        } catch  where Task.isShuttingDownGracefully {
          // Closing the port is how a graceful shutdown ends it; the API drains on its own.
        }
      }
      group.addTask { try await app.run() }
      let sinks: [any MetricSink] =
        config.graphite.map { [GraphiteSink(host: $0.host, port: $0.port, logger: logger)] } ?? []
      let sampler = Sampler(cluster: cluster, routers: self.routers, sinks: sinks, logger: logger)
      let sampleEvery = config.sampleInterval
      group.addTask {
        try? await cancelWhenGracefulShutdown {
          while !Task.isCancelled {
            try await Task.sleep(for: sampleEvery)
            await sampler.sample(now: Int64(cluster.now().timeIntervalSince1970))
          }
        }
      }
      // The scheduler's own certificate is issued again at two thirds of its life.
      if let authority {
        let check = min(max(config.certificateValidity / 100, 1), 600)
        group.addTask {
          try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
              try await Task.sleep(for: .seconds(check))
              do {
                if try authority.tls.renewIfDue(now: cluster.now()) {
                  logger.notice(
                    "renewed the scheduler's certificate",
                    metadata: ["until": "\(authority.tls.notAfter.formatted(.iso8601))"])
                }
              } catch {
                logger.error(
                  "cannot renew the scheduler's certificate", metadata: ["error": "\(error)"])
              }
            }
          }
        }
      }
      // The API's certificate: renewed from the CA, or the operator's files read again.
      if let apiTLS {
        let check = min(max(config.certificateValidity / 100, 1), 30)
        group.addTask {
          try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
              try await Task.sleep(for: .seconds(check))
              do throws(SchedulerError) {
                if let done = try apiTLS.refresh(now: cluster.now()) {
                  logger.notice(
                    "\(done)", metadata: ["until": "\(apiTLS.notAfter.formatted(.iso8601))"])
                }
              } catch {
                logger.error(
                  "the API keeps its certificate: \(error.message)",
                  metadata: ["until": "\(apiTLS.notAfter.formatted(.iso8601))"])
              }
            }
          }
        }
      }
      if let acme {
        group.addTask { try? await cancelWhenGracefulShutdown { await acme.run() } }
      }
      // Retention also after retires and stops, not only after pushes: every 10 minutes.
      let images = self.images
      group.addTask {
        try? await cancelWhenGracefulShutdown {
          while !Task.isCancelled {
            try await Task.sleep(for: .seconds(600))
            let inUse = Set(await apps.state().setList.map(\.image))
            _ = await images.collect(inUse: inUse, actor: "scheduler")
          }
        }
      }
      group.addTask {
        try? await cancelWhenGracefulShutdown {
          var tick = 0
          while !Task.isCancelled {
            try await Task.sleep(for: sweepEvery)
            tick += 1
            // Routes change at once when a node goes down; otherwise once an interval is enough
            // (heartbeats refresh them too) to end the start-up hold on the route table.
            if !(await cluster.sweep()).isEmpty || tick % refreshEvery == 0 {
              await apps.clusterChanged()
            }
          }
        }
      }
    }
  }
}
