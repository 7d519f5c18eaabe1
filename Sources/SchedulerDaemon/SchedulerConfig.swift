import Foundation
import OperatorAPI
import SchedWire

/// How the cluster port is protected.
public enum ClusterSecurity: Sendable, Equatable {
  /// TLS with the cluster CA kept in `pkiDirectory` (nil: `pki/` beside the database, or a
  /// fresh temporary directory for an in-memory one). What `schedd` runs by default.
  case tls(pkiDirectory: String?)
  /// Plain TCP: tokens and commands in clear (`schedd --insecure-cluster`, tests of that path).
  case insecure
}

/// Where the operator API's HTTPS certificate comes from.
public enum APITLSSource: Sendable, Equatable {
  /// A certificate the cluster CA issues for these names (DNS names or IP addresses), made at
  /// start and renewed at two thirds of its life; clients trust the CA (`pki/ca.pem`).
  case clusterCA(names: [String])
  /// The operator's certificate chain and key (PEM files), read again when they change.
  case files(certificate: String, key: String)
}

/// The ACME CA the scheduler obtains routers' certificates from.
public struct ACMESettings: Sendable, Equatable {
  /// The CA's directory URL (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory).
  public var directory: String
  /// Where the CA writes about expiry and problems (`mailto:` added).
  public var email: String?
  /// PEM roots the CA's HTTPS is checked against, instead of the system's.
  public var caFile: String?
  /// The first retry's wait after a failure (doubled per failure, up to `retryCap`).
  public var retryBase: TimeInterval = 60
  public var retryCap: TimeInterval = 6 * 3600
  /// How long every router has to confirm it holds a challenge token.
  public var challengeTimeout: Duration = .seconds(10)

  public init(directory: String, email: String? = nil, caFile: String? = nil) {
    self.directory = directory
    self.email = email
    self.caFile = caFile
  }
}

/// Everything `schedd` is told at start.
public struct SchedulerConfig: Sendable {
  /// TLS or plain TCP on the cluster port. `schedd` asks for TLS unless told
  /// `--insecure-cluster`; in-process tests that speak the protocol by hand use plain TCP.
  public var clusterSecurity: ClusterSecurity = .insecure
  /// How long node and router certificates live (renewed at two thirds of it).
  public var certificateValidity: TimeInterval = 90 * 86400
  public var clusterHost: String
  /// Port for agents and routers (0 picks a free one).
  public var clusterPort: Int
  public var apiHost: String
  /// Port for operators (0 picks a free one).
  public var apiPort: Int
  /// The SQLite database file.
  public var databasePath: String
  /// Token agents present in `hello`.
  public var joinToken: String
  /// Token routers present in `hello`; nil refuses routers.
  public var routerToken: String?
  /// How long a switch waits for every router to ack its prepare (and then its commit).
  public var switchTimeout: Duration
  /// The bootstrap admin token of the operator API (more are made with `schedctl token`).
  public var apiToken: String
  /// HTTPS on the API port, or nil for plain HTTP.
  public var apiTLS: APITLSSource?
  /// The key file app secrets are sealed with (nil: `secrets.key` in the PKI directory, or
  /// beside the database; an in-memory scheduler keeps a key in memory).
  public var secretsKeyPath: String?
  public var heartbeatInterval: Duration
  public var missedBeats: Int
  /// How long nodes have after the scheduler starts to dial again before a silent one is
  /// marked down (never less than the TTL).
  public var restartGrace: Duration = .zero
  public var helloTimeout: Duration
  public var maxLineBytes: Int
  /// How long a command waits for its ack.
  public var commandTimeout: Duration
  /// How often metric samples are taken and stored (the finest tier is 10 s buckets).
  public var sampleInterval: Duration
  /// Graphite's plaintext receiver (carbon, port 2003 by default), for every sample round.
  public var graphite: (host: String, port: Int)?
  /// The image store's blob directory; nil puts it beside the database (`images/`), or in a
  /// fresh temporary directory for an in-memory database.
  public var imageDirectory: String?
  /// How many of each repository's newest pushes the image store keeps when no set uses them.
  public var keepRecentImages: Int = 3
  /// The largest build context `schedctl build` may send, in bytes.
  public var maxBuildContextBytes: Int64 = 512 << 20
  /// The cluster address new nodes dial (`HOST:PORT`), for the join command; nil when
  /// the scheduler cannot know it (it listens on every address and was not told).
  public var advertisedCluster: String?
  /// Certificates over ACME for app hosts whose spec asks (`https: {acme: true}`); nil: none.
  public var acme: ACMESettings?

  /// The cluster CA's directory to use, for TLS.
  public var resolvedPKIDirectory: String? {
    guard case .tls(let directory) = clusterSecurity else { return nil }
    if let directory { return directory }
    if databasePath == ":memory:" || databasePath.isEmpty {
      return NSTemporaryDirectory() + "turnout-pki-\(UInt64.random(in: 0...UInt64.max))"
    }
    let parent = (databasePath as NSString).deletingLastPathComponent
    return (parent.isEmpty ? "." : parent) + "/pki"
  }

  /// The secrets key file to use; nil keeps a fresh key in memory (an in-memory database).
  public var resolvedSecretsKeyPath: String? {
    if let secretsKeyPath { return secretsKeyPath }
    if databasePath == ":memory:" || databasePath.isEmpty { return nil }
    if case .tls(let directory?) = clusterSecurity { return directory + "/secrets.key" }
    let parent = (databasePath as NSString).deletingLastPathComponent
    return (parent.isEmpty ? "." : parent) + (clusterSecurity == .insecure ? "" : "/pki")
      + "/secrets.key"
  }

  /// The image directory to use.
  public var resolvedImageDirectory: String {
    if let imageDirectory { return imageDirectory }
    if databasePath == ":memory:" || databasePath.isEmpty {
      return NSTemporaryDirectory() + "turnout-images-\(UInt64.random(in: 0...UInt64.max))"
    }
    let parent = (databasePath as NSString).deletingLastPathComponent
    return (parent.isEmpty ? "." : parent) + "/images"
  }

  public init(
    clusterHost: String = "127.0.0.1", clusterPort: Int = 7100, apiHost: String = "127.0.0.1",
    apiPort: Int = 7070, databasePath: String, joinToken: String, apiToken: String,
    heartbeatInterval: Duration = .seconds(1), missedBeats: Int = 3,
    helloTimeout: Duration = WireLimits.helloTimeout, maxLineBytes: Int = WireLimits.maxLineBytes,
    commandTimeout: Duration = .seconds(30), routerToken: String? = nil,
    switchTimeout: Duration = .seconds(5), sampleInterval: Duration = .seconds(10),
    graphite: (host: String, port: Int)? = nil
  ) {
    self.sampleInterval = sampleInterval
    self.graphite = graphite
    self.routerToken = routerToken
    self.switchTimeout = switchTimeout
    self.clusterHost = clusterHost
    self.clusterPort = clusterPort
    self.apiHost = apiHost
    self.apiPort = apiPort
    self.databasePath = databasePath
    self.joinToken = joinToken
    self.apiToken = apiToken
    self.heartbeatInterval = heartbeatInterval
    self.missedBeats = missedBeats
    self.helloTimeout = helloTimeout
    self.maxLineBytes = maxLineBytes
    self.commandTimeout = commandTimeout
  }
}
