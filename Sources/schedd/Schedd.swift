import ArgumentParser
import BuildInfo
import ClusterPKI
import Foundation
import Logging
import SchedModel
import SchedStore
import SchedulerDaemon
import ServiceLifecycle

struct Schedd: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "schedd",
    abstract: "The Turnout scheduler: tracks nodes, places slots, serves the operator API.",
    usage: """
      schedd --api-token <token> [--join-token <s>] [--router-token <s>]
        [--db <path>] [--cluster-listen <host:port>] [--api-listen <host:port>]
        [<options>]
      """,
    discussion: """
      The cluster port speaks TLS with the cluster's own CA (made at first start in pki/ \
      beside the database): nodes join with the whole join token (schedctl node join-token: \
      the CA's fingerprint and the secret), get a certificate of their own, and present it \
      from then on; routers the same with the router token. Operators use the API port with \
      the API token. State lives in one SQLite file (WAL, synchronous=FULL): back it up with \
      pki/, keep it on disk that survives a reboot.

      Every flag can also come from the environment: TURNOUT_JOIN_TOKEN, TURNOUT_API_TOKEN, \
      TURNOUT_ROUTER_TOKEN, TURNOUT_DB, TURNOUT_CLUSTER_LISTEN, TURNOUT_API_LISTEN, TURNOUT_GRAPHITE.

      Example:
        schedd --api-token "$(cat /etc/turnout/api-token)" \\
               --router-token "$(cat /etc/turnout/router-token)" \\
               --db /var/lib/turnout/turnout.db
      """,
    version: BuildInfo.line("schedd"))

  @Option(help: "Cluster port address for agents and routers (default 127.0.0.1:7100).")
  var clusterListen: String?

  @Option(
    help: ArgumentHelp(
      "The cluster address new nodes dial, for schedctl node join-command.",
      discussion:
        "Default: --cluster-listen, unless it listens on every address (0.0.0.0): then give the public or private address nodes reach, like 203.0.113.5:7100."
    ))
  var advertiseCluster: String?

  @Option(help: "Operator API address (default 127.0.0.1:7070).")
  var apiListen: String?

  @Option(help: "SQLite state file (default /var/lib/turnout/turnout.db).")
  var db: String?

  @Option(
    help: ArgumentHelp(
      "Where the image store keeps its blobs (default: images/ beside --db).",
      discussion:
        "Layers, configs and manifests pushed with schedctl image push, named by digest. Give it a disk with room for the images your sets run."
    ))
  var imageDir: String?

  @Option(help: "How many of each repository's newest pushes the image store keeps unused.")
  var keepImages: Int = 3

  @Option(
    help: ArgumentHelp(
      "The largest build context schedctl build may send (like 512Mi).",
      discussion:
        "A bigger context is refused before it is uploaded; a .dockerignore keeps it small."
    ))
  var maxBuildContext: String = "512Mi"

  @Option(
    help: ArgumentHelp(
      "The join secret nodes present (default: made at first start and kept).",
      discussion:
        "Nodes join with the whole token, schedctl node join-token. Once rotated (schedctl token rotate join), the rotated one is used instead."
    ))
  var joinToken: String?

  @Option(
    help: ArgumentHelp(
      "The bootstrap admin token of the operator API (or TURNOUT_API_TOKEN).",
      discussion:
        "Use it to make named tokens with roles (schedctl token create NAME --role read|deploy|admin), and keep it for emergencies: the event log names it \"bootstrap\"."
    ))
  var apiToken: String?

  @Flag(
    help: ArgumentHelp(
      "Serve the API and dashboard over HTTPS with a certificate from the cluster CA.",
      discussion:
        "The certificate names localhost, 127.0.0.1, the API's listen address, this host's name and every --api-name, and is renewed at two thirds of its life. schedctl trusts it with --ca-file pki/ca.pem."
    ))
  var apiHttps = false

  @Option(help: "Another DNS name or IP address for the --api-https certificate (repeatable).")
  var apiName: [String] = []

  @Option(
    help: ArgumentHelp(
      "Serve the API over HTTPS with this certificate chain (PEM; needs --api-key).",
      discussion:
        "Read again when the file changes (like after certbot renews it), without a restart."))
  var apiCert: String?

  @Option(help: "The private key (PEM) of --api-cert.")
  var apiKey: String?

  @Option(
    help: ArgumentHelp(
      "Obtain routers' HTTPS certificates from this ACME CA's directory URL (or TURNOUT_ACME_DIRECTORY).",
      discussion:
        "For the hosts of apps whose spec says https: {acme: true}. Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory (try https://acme-staging-v02.api.letsencrypt.org/directory first). Each name must resolve to the routers and port 80 must reach their plain listener: every router answers the HTTP-01 challenge. Using it means agreeing to the CA's terms of service."
    ))
  var acmeDirectory: String?

  @Option(help: "Contact e-mail for the ACME account: the CA writes about expiry and problems.")
  var acmeEmail: String?

  @Option(
    help:
      "PEM file of the roots the ACME CA's HTTPS is checked against, instead of the system's (a private CA)."
  )
  var acmeCAFile: String?

  @Option(
    help:
      "How long after a failed ACME order the first retry waits; each further failure doubles it, up to 6 hours."
  )
  var acmeRetry: String = "1m"

  @Option(help: "Token routers must present to connect (default: routers are refused).")
  var routerToken: String?

  @Option(help: "How long a switch waits for every router to ack before it aborts.")
  var switchTimeout: String = "5s"

  @Option(
    help:
      "Heartbeat interval handed to agents; a node is down after 3 missed beats, and its slots are then re-placed on other nodes."
  )
  var heartbeatInterval: String = "1s"

  @Option(
    help:
      "After the scheduler starts, how long nodes have to dial in again before a silent one is down (at least 3 heartbeats); longer than the agents' --max-backoff."
  )
  var restartGrace: String = "10s"

  @Option(
    help:
      "How often the scheduler stores metric samples (node and set CPU and memory, request rates) for graphs and /v1/samples."
  )
  var sampleInterval: String = "10s"

  @Option(
    help:
      "Also send every round of samples to Graphite's plaintext receiver at HOST:PORT (carbon listens on 2003), as turnout.node.NODE.cpu, turnout.set.APP.COLOR.requests, ..."
  )
  var graphite: String?

  @Flag(
    help: ArgumentHelp(
      "Serve the cluster port in plain TCP instead of TLS (tests of that path only).",
      discussion:
        "Join tokens, commands and app settings then cross the network in clear, and any host that knows the token can speak for any node. Agents and routers need --insecure-cluster too."
    ))
  var insecureCluster = false

  @Option(
    help: ArgumentHelp(
      "Where the cluster CA's certificate and key are kept (default: pki/ beside --db).",
      discussion:
        "Made on first start (ca.key 0600). Back it up with the database: a new CA cuts off every joined node. Join tokens carry its fingerprint."
    ))
  var pkiDir: String?

  @Option(
    help: ArgumentHelp(
      "The key app secrets are sealed with (default: secrets.key in the PKI directory).",
      discussion:
        "32 random bytes, made 0600 on first start. Keep it out of the database's backups, or in a separate one: the database without it reveals no secret, and without it no secret can be read."
    ))
  var secretsKey: String?

  @Option(
    help:
      "How long node and router certificates live (like 90d, 12h); each is renewed at two thirds of it."
  )
  var certValidity: String = "90d"

  @Option(help: "How long a new connection has to send hello.")
  var helloTimeout: String = "10s"

  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
  var logLevel: Logger.Level = .info

  func run() async throws {
    let env = ProcessInfo.processInfo.environment
    let config = try makeConfig(env)
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = logLevel
      return handler
    }
    let logger = Logger(label: "schedd")
    let store = try SQLiteStore(path: config.databasePath)
    let scheduler = try await Scheduler.start(config: config, store: store, logger: logger)
    let group = ServiceGroup(
      services: [scheduler], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
  }

  func makeConfig(_ env: [String: String]) throws -> SchedulerConfig {
    do {
      let cluster = try Parsing.hostPort(
        clusterListen ?? env["TURNOUT_CLUSTER_LISTEN"] ?? "127.0.0.1:7100")
      let api = try Parsing.hostPort(apiListen ?? env["TURNOUT_API_LISTEN"] ?? "127.0.0.1:7070")
      // Without one, the scheduler makes a join token (and keeps it); join-token prints it.
      var join = joinToken ?? env["TURNOUT_JOIN_TOKEN"] ?? ""
      // A whole token (as join-command prints it) gives its secret; the CA is the one in
      // --pki-dir whatever fingerprint the token names.
      if JoinToken.isToken(join) { join = try Self.secret(of: join) }

      var router = (routerToken ?? env["TURNOUT_ROUTER_TOKEN"]).flatMap { $0.isEmpty ? nil : $0 }
      if let whole = router, JoinToken.isToken(whole) { router = try Self.secret(of: whole) }
      guard let apiToken = apiToken ?? env["TURNOUT_API_TOKEN"], !apiToken.isEmpty else {
        throw ValidationError("no API token: pass --api-token or set TURNOUT_API_TOKEN")
      }
      let interval = try Parsing.duration(heartbeatInterval)
      guard interval >= .milliseconds(50) else {
        throw ValidationError("--heartbeat-interval must be at least 50ms")
      }
      let sampleEvery = try Parsing.duration(sampleInterval)
      guard sampleEvery >= .seconds(1) else {
        throw ValidationError("--sample-interval must be at least 1s")
      }
      guard keepImages >= 1 else {
        throw ValidationError(
          "--keep-images must be at least 1 (the newest push of each repository)")
      }
      var config = SchedulerConfig(
        clusterHost: cluster.host, clusterPort: cluster.port, apiHost: api.host, apiPort: api.port,
        databasePath: db ?? env["TURNOUT_DB"] ?? "/var/lib/turnout/turnout.db", joinToken: join,
        apiToken: apiToken, heartbeatInterval: interval,
        helloTimeout: try Parsing.duration(helloTimeout),
        routerToken: router,
        switchTimeout: try Parsing.duration(switchTimeout), sampleInterval: sampleEvery,
        graphite: try (graphite ?? env["TURNOUT_GRAPHITE"]).map { try Parsing.hostPort($0) })
      config.restartGrace = try Parsing.duration(restartGrace)
      config.imageDirectory = imageDir ?? env["TURNOUT_IMAGE_DIR"]
      if let advertised = advertiseCluster ?? env["TURNOUT_ADVERTISE_CLUSTER"] {
        let address = try Parsing.hostPort(advertised)
        config.advertisedCluster = "\(address.host):\(address.port)"
      } else if !["0.0.0.0", "::", "[::]", ""].contains(cluster.host) {
        config.advertisedCluster = "\(cluster.host):\(cluster.port)"
      }
      config.keepRecentImages = keepImages
      config.clusterSecurity =
        insecureCluster ? .insecure : .tls(pkiDirectory: pkiDir ?? env["TURNOUT_PKI_DIR"])
      let validity = try Parsing.duration(certValidity)
      guard validity >= .seconds(10) else {
        throw ValidationError("--cert-validity must be at least 10s")
      }
      config.certificateValidity = Double(validity.components.seconds)
      config.maxBuildContextBytes = try Quantity.parseMemory(maxBuildContext)
      config.apiTLS = try apiTLSSource(apiHost: api.host, env: env)
      config.secretsKeyPath = secretsKey ?? env["TURNOUT_SECRETS_KEY"]
      if let directory = acmeDirectory ?? env["TURNOUT_ACME_DIRECTORY"], !directory.isEmpty {
        guard directory.hasPrefix("https://"), URL(string: directory)?.host != nil else {
          throw ValidationError(
            "--acme-directory must be the CA's https:// directory URL, like https://acme-v02.api.letsencrypt.org/directory"
          )
        }
        if let caFile = acmeCAFile, !FileManager.default.isReadableFile(atPath: caFile) {
          throw ValidationError("cannot read --acme-ca-file \(caFile)")
        }
        var acme = ACMESettings(
          directory: directory, email: acmeEmail ?? env["TURNOUT_ACME_EMAIL"], caFile: acmeCAFile)
        let retry = try Parsing.duration(acmeRetry)
        guard retry >= .seconds(1) else {
          throw ValidationError("--acme-retry must be at least 1s")
        }
        acme.retryBase = Double(retry.components.seconds)
        config.acme = acme
      } else if acmeEmail != nil || acmeCAFile != nil {
        throw ValidationError("--acme-email and --acme-ca-file need --acme-directory")
      }
      return config
    } catch let error as ModelError {
      throw ValidationError(error.message)
    }
  }
}

extension Schedd {
  /// HTTPS on the API port from the flags, or nil.
  func apiTLSSource(apiHost: String, env: [String: String]) throws -> APITLSSource? {
    let certificate = apiCert ?? env["TURNOUT_API_CERT"]
    let key = apiKey ?? env["TURNOUT_API_KEY"]
    switch (certificate, key) {
    case (let certificate?, let key?):
      guard !apiHttps else {
        throw ValidationError(
          "--api-https (a certificate from the cluster CA) and --api-cert (your own) exclude each other: choose one"
        )
      }
      return .files(certificate: certificate, key: key)
    case (.some, nil), (nil, .some):
      throw ValidationError("--api-cert and --api-key go together: give both, or neither")
    case (nil, nil):
      guard apiHttps || !apiName.isEmpty else { return nil }
      guard apiHttps else { throw ValidationError("--api-name needs --api-https") }
      guard !insecureCluster else {
        throw ValidationError(
          "--api-https uses the cluster CA, which an --insecure-cluster scheduler does not have: give --api-cert and --api-key instead"
        )
      }
      var names = ["localhost", "127.0.0.1"]
      if !["0.0.0.0", "::", "[::]", ""].contains(apiHost) { names.append(apiHost) }
      names.append(ProcessInfo.processInfo.hostName)
      names += apiName
      var seen = Set<String>()
      return .clusterCA(names: names.filter { seen.insert($0).inserted })
    }
  }

  static func secret(of token: String) throws -> String {
    do { return try JoinToken.parse(token).secret } catch {
      throw ValidationError(error.message)
    }
  }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
