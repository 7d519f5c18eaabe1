import Foundation
import HTTPFraming
import NIOCore
import NIOPosix
import SchedModel

/// Everything `sched-router` is told at start.
public struct RouterConfig: Sendable {
  /// The router's name in the cluster (unique per router).
  public var name: String
  /// The scheduler's cluster port; nil runs the router alone on its saved route table.
  public var schedulerHost: String?
  public var schedulerPort: Int
  public var token: String
  /// Production traffic: the live set of each app.
  public var listenHost: String
  public var listenPort: Int
  /// The preview listener: the candidate set of each app. nil turns it off. Its host may differ
  /// from production's: production on a public address, preview on loopback or a private one.
  public var previewHost: String
  public var previewPort: Int?
  /// The HTTPS listener (production traffic over TLS, certificates from the scheduler); nil
  /// turns it off.
  public var tlsHost: String = "127.0.0.1"
  public var tlsPort: Int?
  /// A request carrying this header (any value but `0`) goes to the candidate set. nil: off.
  public var previewHeader: String?
  /// The app for requests whose Host names none.
  public var defaultApp: String?
  /// Where the last route table is kept; the router serves it at start.
  public var stateFile: String?
  /// Stamp responses with x-turnout-color, -slot, -image and -deployment.
  public var stampResponses: Bool
  /// Event loops (threads) of the proxy.
  public var threads: Int
  /// What carries plain HTTP/1.1: the router's own epoll loops, or SwiftNIO's channels.
  /// HTTPS always goes through SwiftNIO (TLS, HTTP/2).
  public var dataPath: DataPath = .default

  /// How the plain listeners are served.
  public enum DataPath: String, Sendable, CaseIterable {
    /// `EpollLoop`: a socket per connection and nothing between it and the proxy's handler.
    case epoll
    /// SwiftNIO's channels and pipelines, as HTTPS is served.
    case nio

    /// The path taken when none is named: `TURNOUT_ROUTER_DATA_PATH` when set (tests run
    /// the router's suites on both), else epoll.
    public static var `default`: DataPath {
      ProcessInfo.processInfo.environment["TURNOUT_ROUTER_DATA_PATH"].flatMap(DataPath.init)
        ?? .epoll
    }
  }
  public var maxHeaderBytes: Int
  /// A client connection with nothing to say for this long is closed.
  public var idleTimeout: TimeAmount
  public var connectTimeout: TimeAmount
  /// How long an upstream may take to start its answer.
  public var responseTimeout: TimeAmount
  /// Idle keep-alive connections kept per upstream on each event loop.
  public var maxIdlePerUpstream: Int
  /// An idle upstream connection older than this is closed instead of reused.
  public var upstreamIdleTimeout: TimeAmount
  /// How long a prepare may spend opening connections to the new set before it acks anyway.
  public var warmTimeout: TimeAmount
  /// Request bodies up to this size are kept so a failed attempt can be replayed elsewhere.
  public var replayBufferBytes: Int
  public var maxLineBytes: Int
  /// Follow a scheduler of another cluster than the one in the state file (once).
  public var joinNewCluster: Bool
  /// TLS to the scheduler with the router's credentials kept here (joining with the token,
  /// which must then be a whole join token); nil speaks plain TCP with the token's secret
  /// (`--insecure-cluster`, and in-process tests).
  public var credentialsDirectory: String?
  /// Listening sockets this process was given (`ListenerSockets.inherited()`), by listener
  /// name; a listener without one binds its address.
  public var inheritedListeners: [String: [Int32]] = [:]
  /// How long a drain (at SIGTERM, or after handing over to a new process) waits for the
  /// requests in flight before it cuts what is left.
  public var drainTimeout: Duration = .seconds(30)
  /// The program and arguments an upgrade (SIGUSR2) starts; nil refuses upgrades.
  public var upgradeCommand: (executable: String, arguments: [String])?
  /// How long an upgrade waits for the new process to be serving before it gives up (and
  /// this one keeps serving).
  public var upgradeTimeout: Duration = .seconds(30)

  public init(
    name: String, schedulerHost: String? = "127.0.0.1", schedulerPort: Int = 7100,
    token: String = "", listenHost: String = "127.0.0.1", listenPort: Int = 8000,
    previewHost: String? = nil, previewPort: Int? = nil, previewHeader: String? = nil,
    defaultApp: String? = nil,
    stateFile: String? = nil, stampResponses: Bool = true,
    threads: Int = System.coreCount, maxHeaderBytes: Int = 32 * 1024,
    idleTimeout: TimeAmount = .seconds(60), connectTimeout: TimeAmount = .seconds(2),
    responseTimeout: TimeAmount = .seconds(60), maxIdlePerUpstream: Int = 64,
    upstreamIdleTimeout: TimeAmount = .seconds(30), warmTimeout: TimeAmount = .seconds(1),
    replayBufferBytes: Int = 64 * 1024, maxLineBytes: Int = 1 << 20,
    joinNewCluster: Bool = false
  ) {
    self.joinNewCluster = joinNewCluster
    self.name = name
    self.schedulerHost = schedulerHost
    self.schedulerPort = schedulerPort
    self.token = token
    self.credentialsDirectory = nil
    self.listenHost = listenHost
    self.listenPort = listenPort
    self.previewHost = previewHost ?? listenHost
    self.previewPort = previewPort
    self.previewHeader = previewHeader?.lowercased()
    self.defaultApp = defaultApp
    self.stateFile = stateFile
    self.stampResponses = stampResponses
    self.threads = max(1, threads)
    self.maxHeaderBytes = maxHeaderBytes
    self.idleTimeout = idleTimeout
    self.connectTimeout = connectTimeout
    self.responseTimeout = responseTimeout
    self.maxIdlePerUpstream = maxIdlePerUpstream
    self.upstreamIdleTimeout = upstreamIdleTimeout
    self.warmTimeout = warmTimeout
    self.replayBufferBytes = replayBufferBytes
    self.maxLineBytes = maxLineBytes
  }
}
