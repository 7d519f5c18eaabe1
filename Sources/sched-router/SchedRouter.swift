import ArgumentParser
import BuildInfo
import Foundation
import Logging
import NIOCore
import RouterDaemon
import SchedModel
import ServiceLifecycle

@main
struct SchedRouter: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sched-router",
    abstract: "The Turnout router: the HTTP switch between an app's blue and green sets.",
    discussion: """
      The router dials the scheduler's cluster port as a router, receives every app's route \
      table (live set, candidate set, healthy slots, epoch) and proxies HTTP/1.1 by Host header \
      to the live set. A switch is two-phase across all routers: each router prepares the new \
      table, warms connections to the new set and acks; the scheduler then commits it \
      everywhere. The candidate set is reachable before the switch on the preview listener.

      The last table is saved in --state-file and served at start, before the scheduler answers; \
      without --scheduler the router serves that file alone.

      SIGTERM drains: the router stops accepting, finishes the requests in flight (each \
      connection closes after its answer, with Connection: close; idle ones after half a \
      second) and exits. SIGUSR2 upgrades without a gap: the router starts its program again \
      (the binary installed now) with its listening sockets, waits until the new process \
      serves, then drains and exits; nothing is refused meanwhile (systemctl reload does it).

      Every response carries x-turnout-color, x-turnout-slot, x-turnout-image and \
      x-turnout-deployment (turn off with --no-stamp). Answers the router makes itself carry \
      x-turnout-error: router.

      Flags can also come from the environment: TURNOUT_SCHEDULER, TURNOUT_ROUTER_TOKEN, \
      TURNOUT_ROUTER_NAME, TURNOUT_LISTEN, TURNOUT_PREVIEW_LISTEN, TURNOUT_STATE_FILE.

      Example:
        sched-router --scheduler 10.0.0.2:7100 \\
          --token "$(cat /etc/turnout/router-token)" --name edge-1 \\
          --listen 0.0.0.0:80 --preview-listen 127.0.0.1:8001 \\
          --state-file /var/lib/turnout/routes.json
      """,
    version: BuildInfo.line("sched-router"))

  @Option(help: "Scheduler cluster address HOST:PORT (default 127.0.0.1:7100), or 'none'.")
  var scheduler: String?

  @Option(
    help: ArgumentHelp(
      "The router join token (TRN-1-..., from schedctl token show router).",
      discussion:
        "Needed only to join: the router checks the scheduler against the CA the token names, asks for its own certificate and keeps it in --credentials-dir; later connections present that certificate."
    ))
  var token: String?

  @Option(
    help: ArgumentHelp(
      "Where the router keeps its certificate and key.",
      discussion:
        "Default: tls-NAME beside --state-file, or /var/lib/turnout/router/tls. Remove it to join again with a token."
    ))
  var credentialsDir: String?

  @Flag(
    help: ArgumentHelp(
      "Speak plain TCP to a scheduler started with --insecure-cluster (tests of that path only).",
      discussion: "The token's secret then crosses the network in clear."))
  var insecureCluster = false

  @Option(help: "Router name, unique in the cluster (default: router-<host name>).")
  var name: String?

  @Option(help: "Production listener HOST:PORT (default 127.0.0.1:8000).")
  var listen: String?

  @Option(
    help:
      "Preview listener HOST:PORT serving each app's candidate set; schedctl verify checks through it (default: off)."
  )
  var previewListen: String?

  @Option(
    help: ArgumentHelp(
      "HTTPS listener HOST:PORT for production traffic (default: off).",
      discussion:
        "Each app host's certificate comes from the scheduler (schedctl cert upload), chosen by the name the client asks for (SNI); the router keeps them in its state file (0600) and serves HTTPS at once after a restart, even with the scheduler away. A name without a certificate fails the handshake."
    ))
  var tlsListen: String?

  @Option(help: "A request header that sends a request to the candidate set (default: off).")
  var previewHeader: String?

  @Option(help: "App for requests whose Host header names no app.")
  var defaultApp: String?

  @Option(help: "File keeping the last route table (default: none).")
  var stateFile: String?

  @Flag(
    help: ArgumentHelp(
      "Follow a scheduler of another cluster than the one in the state file.",
      discussion:
        "Without it, a scheduler with another cluster id (a new or wrong --db) is refused and the router keeps serving its table."
    ))
  var joinNewCluster = false

  @Flag(help: "Do not add x-turnout-* headers to responses.")
  var noStamp = false

  @Option(help: "Event loop threads (default: one per core).")
  var threads: Int?

  @Option(
    help: ArgumentHelp(
      "What carries plain HTTP: epoll or nio. (default: epoll)",
      discussion: """
        epoll: the router's own event loops, a socket per connection and nothing between it \
        and the proxy (about half the CPU time per request of nio). nio: SwiftNIO's channels, \
        as HTTPS and HTTP/2 always are. TURNOUT_ROUTER_DATA_PATH sets the default.
        """))
  var dataPath: RouterConfig.DataPath?

  @Option(help: "Largest request head accepted, in bytes.")
  var maxHeaderBytes: Int = 32 * 1024

  @Option(
    help:
      "Close client connections idle this long, and upgraded ones (WebSockets) silent both ways this long."
  )
  var idleTimeout: String = "60s"

  @Option(help: "Give up connecting to a slot after this long (then retry another slot).")
  var connectTimeout: String = "2s"

  @Option(help: "Answer 504 when a slot has not started its answer after this long.")
  var responseTimeout: String = "60s"

  @Option(
    help:
      "At SIGTERM (and after an upgrade), how long to wait for requests in flight before cutting what is left."
  )
  var drainTimeout: String = "30s"

  @Option(help: "At an upgrade (SIGUSR2), how long the new process has to start serving.")
  var upgradeTimeout: String = "30s"

  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel: Logger.Level = .info

  func run() async throws {
    let config = try makeConfig(ProcessInfo.processInfo.environment)
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = logLevel
      return handler
    }
    var logger = Logger(label: "sched-router")
    logger[metadataKey: "router"] = "\(config.name)"
    let files = DescriptorLimit.raise()
    logger.info(
      "open files: \(files.soft) (about \(files.soft / 2) proxied connections)",
      metadata: ["files.soft": "\(files.soft)", "files.hard": "\(files.hard)"])
    if files.soft < 4096 {
      logger.warning(
        "the open-file limit is low for a router: raise LimitNOFILE (systemd) or ulimit -n",
        metadata: ["files.soft": "\(files.soft)"])
    }
    let router: Router
    do {
      router = try await Router.start(config: config, logger: logger)
    } catch let error as RouterError {
      FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
      throw ExitCode(error.code == .bind ? 69 : 78)
    }
    // Serving now: the router that started this one (an upgrade) may drain, and systemd
    // (Type=notify) learns which process is the service's.
    Router.announceServing()
    // The router returns by itself after handing over to a new process: that ends the run.
    let group = ServiceGroup(
      configuration: ServiceGroupConfiguration(
        services: [
          .init(service: router, successTerminationBehavior: .gracefullyShutdownGroup)
        ],
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    do {
      try await group.run()
    } catch let error as RouterError where error.code == .refused {
      FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
      throw ExitCode(77)
    }
  }

  func makeConfig(_ env: [String: String]) throws -> RouterConfig {
    if (tlsListen ?? env["TURNOUT_TLS_LISTEN"]) != nil, insecureCluster {
      throw ValidationError(
        "--tls-listen needs TLS on the cluster port (certificate keys cross it): drop --insecure-cluster"
      )
    }
    do {
      let schedulerText = scheduler ?? env["TURNOUT_SCHEDULER"] ?? "127.0.0.1:7100"
      let address = schedulerText == "none" ? nil : try Parsing.hostPort(schedulerText)
      let token = token ?? env["TURNOUT_ROUTER_TOKEN"] ?? ""
      let name = try NodeID.validate(
        name ?? env["TURNOUT_ROUTER_NAME"] ?? "router-\(ProcessInfo.processInfo.hostName)")
      let listen = try Parsing.hostPort(listen ?? env["TURNOUT_LISTEN"] ?? "127.0.0.1:8000")
      let preview = try (previewListen ?? env["TURNOUT_PREVIEW_LISTEN"]).map(Parsing.hostPort)
      var config = RouterConfig(
        name: name.rawValue, schedulerHost: address?.host, schedulerPort: address?.port ?? 0,
        token: token, listenHost: listen.host, listenPort: listen.port,
        previewHost: preview?.host, previewPort: preview?.port, previewHeader: previewHeader,
        defaultApp: defaultApp,
        stateFile: stateFile ?? env["TURNOUT_STATE_FILE"], stampResponses: !noStamp,
        threads: threads ?? System.coreCount, maxHeaderBytes: maxHeaderBytes,
        idleTimeout: try Self.amount(idleTimeout), connectTimeout: try Self.amount(connectTimeout),
        responseTimeout: try Self.amount(responseTimeout), joinNewCluster: joinNewCluster)
      config.dataPath = dataPath ?? .default
      if let tls = try (tlsListen ?? env["TURNOUT_TLS_LISTEN"]).map(Parsing.hostPort) {
        config.tlsHost = tls.host
        config.tlsPort = tls.port
      }
      if address != nil && !insecureCluster {
        config.credentialsDirectory =
          credentialsDir ?? env["TURNOUT_CREDENTIALS_DIR"]
          ?? (config.stateFile.map { ($0 as NSString).deletingLastPathComponent }
            .map { ($0.isEmpty ? "." : $0) + "/tls-\(name)" } ?? "/var/lib/turnout/router/tls")
      }
      config.inheritedListeners = ListenerSockets.inherited()
      config.drainTimeout = try Parsing.duration(drainTimeout)
      config.upgradeTimeout = try Parsing.duration(upgradeTimeout)
      config.upgradeCommand = Self.program().map {
        (executable: $0, arguments: Array(CommandLine.arguments.dropFirst()))
      }
      return config
    } catch {
      throw ValidationError(error.message)
    }
  }

  /// This program's path as it was started: an upgrade starts what is there then (the new
  /// binary installed over it).
  static func program() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    var path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
    return path
  }

  static func amount(_ text: String) throws(ModelError) -> TimeAmount {
    let duration = try Parsing.duration(text)
    let (seconds, attoseconds) = duration.components
    return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
  }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

extension RouterConfig.DataPath: ExpressibleByArgument {}
