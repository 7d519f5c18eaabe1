import Foundation
import RouteTable
import SchedModel

/// Scheduler → router: a route table. `install` serves it at once (a slot came or went);
/// `prepare` is phase one of a switch: hold it, warm the pools, and ack with `route_ack`.
public struct Routes: WireBody {
  public static let type = MessageType.routes

  public enum Phase: String, Codable, Sendable {
    case install
    case prepare
  }

  public var phase: Phase
  public var table: RouteTable
  /// Apps the scheduler deleted: the only ones a router lets a table leave out.
  public var removed: [String]

  public init(phase: Phase, table: RouteTable, removed: [String] = []) {
    self.phase = phase
    self.table = table
    self.removed = removed
  }

  enum CodingKeys: String, CodingKey { case phase, table, removed }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    phase = try container.decode(Phase.self, forKey: .phase)
    table = try container.decode(RouteTable.self, forKey: .table)
    removed = try container.decodeIfPresent([String].self, forKey: .removed) ?? []
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(phase, forKey: .phase)
    try container.encode(table, forKey: .table)
    if !removed.isEmpty { try container.encode(removed, forKey: .removed) }
  }
}

/// Scheduler → router: phase two of a switch, serve the prepared epoch now.
public struct Commit: WireBody {
  public static let type = MessageType.commit
  public var epoch: Int64

  public init(epoch: Int64) { self.epoch = epoch }
}

/// Scheduler → router: the switch of `epoch` is called off; keep serving what is served.
public struct Abort: WireBody {
  public static let type = MessageType.abort
  public var epoch: Int64
  public var reason: String

  public init(epoch: Int64, reason: String) {
    self.epoch = epoch
    self.reason = reason
  }
}

/// Router → scheduler: the answer to `routes` or `commit`, with its id echoed in the head.
public struct RouteAck: WireBody {
  public static let type = MessageType.routeAck
  public var epoch: Int64
  public var ok: Bool
  public var message: String?

  public init(epoch: Int64, ok: Bool, message: String? = nil) {
    self.epoch = epoch
    self.ok = ok
    self.message = message
  }
}

/// Scheduler → router: wait until no request to this set is in flight, up to the timeout.
public struct Drain: WireBody {
  public static let type = MessageType.drain
  public var app: String
  public var color: Color
  public var timeoutMillis: Int64

  public init(app: String, color: Color, timeoutMillis: Int64) {
    self.app = app
    self.color = color
    self.timeoutMillis = timeoutMillis
  }

  enum CodingKeys: String, CodingKey {
    case app, color
    case timeoutMillis = "timeout_ms"
  }
}

/// Router → scheduler: the answer to `drain`; `in_flight` is 0 unless the timeout passed.
public struct Drained: WireBody {
  public static let type = MessageType.drained
  public var app: String
  public var color: Color
  public var inFlight: Int64

  public init(app: String, color: Color, inFlight: Int64) {
    self.app = app
    self.color = color
    self.inFlight = inFlight
  }

  enum CodingKeys: String, CodingKey {
    case app, color
    case inFlight = "in_flight"
  }
}

/// Router → scheduler, first after `welcome` and then every heartbeat interval: the epoch it
/// serves and its traffic per app and color since it started.
public struct RouterReport: WireBody {
  public static let type = MessageType.routerReport
  public var epoch: Int64
  public var traffic: [SetTraffic]
  /// When the router process started: a new value means its counts started again from zero,
  /// and the scheduler keeps the ones it had.
  public var startedAt: Date?

  public init(epoch: Int64, traffic: [SetTraffic], startedAt: Date? = nil) {
    self.epoch = epoch
    self.traffic = traffic
    self.startedAt = startedAt
  }

  enum CodingKeys: String, CodingKey {
    case epoch, traffic
    case startedAt = "started_at"
  }
}

/// Scheduler → router: every certificate routers serve HTTPS with, whole (each replaces the
/// last). Sent after the welcome and whenever one changes; the router keeps them in its state
/// file so it serves HTTPS at once after a restart with the scheduler away. Only over TLS: it
/// carries private keys.
public struct EdgeCertificates: WireBody {
  public static let type = MessageType.certificates
  /// Grows with every change, so a router keeps the newest set it was sent.
  public var version: Int64
  public var certificates: [EdgeCertificate]

  public init(version: Int64, certificates: [EdgeCertificate]) {
    self.version = version
    self.certificates = certificates
  }
}

/// Scheduler → every router: the ACME HTTP-01 challenges under way, token → key authorization,
/// whole (each replaces the last; empty when none is). A router answers
/// `GET /.well-known/acme-challenge/TOKEN` on its plain listener from this set, and confirms it
/// holds the set with `challenges_held` before the scheduler asks the CA to look.
public struct ACMEChallenges: WireBody {
  public static let type = MessageType.acmeChallenges
  public var tokens: [String: String]

  public init(tokens: [String: String]) { self.tokens = tokens }
}

/// Router → scheduler, answering `acme_challenges`: how many tokens it now answers for.
public struct ChallengesHeld: WireBody {
  public static let type = MessageType.challengesHeld
  public var count: Int

  public init(count: Int) { self.count = count }
}
