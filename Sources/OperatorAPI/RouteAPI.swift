import Foundation
import RouteTable
import SchedModel

/// One router as the scheduler sees it (`GET /v1/routers`).
public struct RouterView: Codable, Sendable, Equatable {
  public var name: String
  public var connected: Bool
  public var peer: String?
  /// The epoch the router last reported serving.
  public var epoch: Int64
  /// It serves the scheduler's current table.
  public var inSync: Bool
  public var reportAgeMillis: Int64?

  public init(
    name: String, connected: Bool, peer: String?, epoch: Int64, inSync: Bool,
    reportAgeMillis: Int64?
  ) {
    self.name = name
    self.connected = connected
    self.peer = peer
    self.epoch = epoch
    self.inSync = inSync
    self.reportAgeMillis = reportAgeMillis
  }

  enum CodingKeys: String, CodingKey {
    case name, connected, peer, epoch
    case inSync = "in_sync"
    case reportAgeMillis = "report_age_ms"
  }
}

/// `GET /v1/routers`: the scheduler's table epoch and every router it has heard from.
public struct RoutersResponse: Codable, Sendable, Equatable {
  public var epoch: Int64
  public var routers: [RouterView]

  public init(epoch: Int64, routers: [RouterView]) {
    self.epoch = epoch
    self.routers = routers
  }
}

/// `POST /v1/apps/NAME/switch` and `/rollback`: what went live, at which epoch, how fast.
public struct SwitchResponse: Codable, Sendable, Equatable {
  public var app: String
  public var from: Color?
  public var to: Color
  public var deployment: String
  public var epoch: Int64
  public var routers: [String]
  /// Routers that did not confirm the commit in time; they were sent the table again.
  public var lagging: [String]
  public var prepareMillis: Double
  public var commitMillis: Double
  /// When the scheduler took the command (wall clock): with the client's own times, how much
  /// of a switch was the request's way in.
  public var acceptedAt: Date?

  public init(
    app: String, from: Color?, to: Color, deployment: String, epoch: Int64, routers: [String],
    lagging: [String], prepareMillis: Double, commitMillis: Double, acceptedAt: Date? = nil
  ) {
    self.app = app
    self.from = from
    self.to = to
    self.deployment = deployment
    self.epoch = epoch
    self.routers = routers
    self.lagging = lagging
    self.prepareMillis = prepareMillis
    self.commitMillis = commitMillis
    self.acceptedAt = acceptedAt
  }

  enum CodingKeys: String, CodingKey {
    case app, from, to, deployment, epoch, routers, lagging
    case prepareMillis = "prepare_ms"
    case commitMillis = "commit_ms"
    case acceptedAt = "accepted_at"
  }
}

/// `POST /v1/apps/NAME/retire`: how long to wait for requests in flight (default: the app's).
/// `POST /v1/apps/NAME/switch`: `force` switches to a candidate without a passing verification
/// (written to the event log with who did it).
public struct SwitchRequest: Codable, Sendable, Equatable {
  public var force: Bool

  public init(force: Bool = false) { self.force = force }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    force = try c.decodeIfPresent(Bool.self, forKey: .force) ?? false
  }
}

/// `POST /v1/apps/NAME/sets/COLOR/stop`: `force` stops the live set too.
public typealias StopSetRequest = SwitchRequest

public struct RetireRequest: Codable, Sendable, Equatable {
  public var drainTimeoutMillis: Int64?

  public init(drainTimeoutMillis: Int64? = nil) { self.drainTimeoutMillis = drainTimeoutMillis }

  enum CodingKeys: String, CodingKey { case drainTimeoutMillis = "drain_timeout_ms" }
}

/// What a retire did: the set it stopped and whether every router drained it in time.
public struct RetireResponse: Codable, Sendable, Equatable {
  public var app: String
  public var color: Color
  public var deployment: String
  public var drainMillis: Double
  /// Requests still in flight per router when the drain timeout passed (-1: no answer).
  public var inFlightLeft: [String: Int64]

  public init(
    app: String, color: Color, deployment: String, drainMillis: Double,
    inFlightLeft: [String: Int64]
  ) {
    self.app = app
    self.color = color
    self.deployment = deployment
    self.drainMillis = drainMillis
    self.inFlightLeft = inFlightLeft
  }

  enum CodingKeys: String, CodingKey {
    case app, color, deployment
    case drainMillis = "drain_ms"
    case inFlightLeft = "in_flight_left"
  }
}
