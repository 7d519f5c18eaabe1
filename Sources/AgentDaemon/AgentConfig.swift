import AgentCore
import SchedModel
import SchedWire
import WireTransport

/// Everything `sched-agent` is told at start.
public struct AgentConfig: Sendable {
  public var schedulerHost: String
  public var schedulerPort: Int
  public var joinToken: String
  public var node: NodeID
  public var name: String
  /// Address routers use to reach this node's slots.
  public var advertiseAddress: String
  public var ports: PortRange
  public var labels: [String: String]
  public var backoff: Backoff
  public var maxLineBytes: Int
  /// How often, between heartbeats, the agent asks whether a slot's health changed (a change
  /// sends the next beat at once). A simulated node without containers asks once a beat.
  public var reportPoll: Duration

  public init(
    schedulerHost: String, schedulerPort: Int, joinToken: String, node: NodeID, name: String,
    advertiseAddress: String, ports: PortRange, labels: [String: String] = [:],
    backoff: Backoff = Backoff(), maxLineBytes: Int = WireLimits.maxLineBytes,
    reportPoll: Duration = .milliseconds(50)
  ) {
    self.reportPoll = reportPoll
    self.schedulerHost = schedulerHost
    self.schedulerPort = schedulerPort
    self.joinToken = joinToken
    self.node = node
    self.name = name
    self.advertiseAddress = advertiseAddress
    self.ports = ports
    self.labels = labels
    self.backoff = backoff
    self.maxLineBytes = maxLineBytes
  }
}

/// The error of the agent daemon.
public struct AgentError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    /// The scheduler refused this agent; retrying will not help until the config changes.
    case refused
    /// The session broke; the agent reconnects.
    case session
    /// The scheduler serves another cluster than the one this node joined; the agent keeps
    /// its containers and tries again.
    case wrongCluster = "wrong_cluster"
    case probe
    /// An image could not be had from the cluster's store.
    case image
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
