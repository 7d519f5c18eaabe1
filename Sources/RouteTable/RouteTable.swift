import SchedModel

/// A slot the router may send traffic to.
public struct Upstream: Codable, Sendable, Hashable, Comparable {
  public var slot: SlotID
  public var address: String
  public var port: Int
  /// The image id (`sha256:...`) the slot's container runs, as its agent reported it: what
  /// the router stamps on answers from it. nil from an agent that did not say.
  public var image: String?

  public init(slot: SlotID, address: String, port: Int, image: String? = nil) {
    self.slot = slot
    self.address = address
    self.port = port
    self.image = image
  }

  public static func < (lhs: Upstream, rhs: Upstream) -> Bool { lhs.slot < rhs.slot }
}

/// One color of an app, as the router sees it: its deployment and its healthy slots.
public struct RouteSet: Codable, Sendable, Hashable {
  public var color: Color
  public var deployment: String
  public var image: String
  public var upstreams: [Upstream]

  public init(color: Color, deployment: String, image: String, upstreams: [Upstream]) {
    self.color = color
    self.deployment = deployment
    self.image = image
    self.upstreams = upstreams.sorted()
  }
}

/// Where one app's traffic goes: the live set serves production, the candidate the preview.
public struct AppRoutes: Codable, Sendable, Hashable {
  public var app: String
  /// Host headers (without port) routed to this app.
  public var hosts: [String]
  public var live: RouteSet?
  public var candidate: RouteSet?
  /// Plain-HTTP requests are answered with a redirect to HTTPS (by routers with an HTTPS
  /// listener).
  public var httpsRedirect: Bool
  /// The `strict-transport-security` value HTTPS answers carry; nil: none.
  public var hsts: String?

  public init(
    app: String, hosts: [String] = [], live: RouteSet? = nil, candidate: RouteSet? = nil,
    httpsRedirect: Bool = false, hsts: String? = nil
  ) {
    self.app = app
    self.hosts = hosts.map { $0.lowercased() }.sorted()
    self.live = live
    self.candidate = candidate
    self.httpsRedirect = httpsRedirect
    self.hsts = hsts
  }

  enum CodingKeys: String, CodingKey {
    case app, hosts, live, candidate, hsts
    case httpsRedirect = "https_redirect"
  }

  /// Tables saved before the HTTPS fields decode without them.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    app = try c.decode(String.self, forKey: .app)
    hosts = try c.decodeIfPresent([String].self, forKey: .hosts) ?? []
    live = try c.decodeIfPresent(RouteSet.self, forKey: .live)
    candidate = try c.decodeIfPresent(RouteSet.self, forKey: .candidate)
    httpsRedirect = try c.decodeIfPresent(Bool.self, forKey: .httpsRedirect) ?? false
    hsts = try c.decodeIfPresent(String.self, forKey: .hsts)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(app, forKey: .app)
    try c.encode(hosts, forKey: .hosts)
    try c.encodeIfPresent(live, forKey: .live)
    try c.encodeIfPresent(candidate, forKey: .candidate)
    if httpsRedirect { try c.encode(true, forKey: .httpsRedirect) }
    try c.encodeIfPresent(hsts, forKey: .hsts)
  }
}

/// Every app's routes at one epoch. Epochs only ever increase; a router never goes back.
public struct RouteTable: Codable, Sendable, Hashable {
  public var epoch: Int64
  public private(set) var apps: [AppRoutes]

  public init(epoch: Int64, apps: [AppRoutes]) {
    self.epoch = epoch
    // The scheduler's tables come in name order already: checking is cheaper than sorting.
    let ordered = apps.indices.dropFirst().allSatisfy { apps[$0 - 1].app < apps[$0].app }
    self.apps = ordered ? apps : apps.sorted { $0.app < $1.app }
  }

  public static let empty = RouteTable(epoch: 0, apps: [])

  public func app(named name: String) -> AppRoutes? { apps.first { $0.app == name } }

  /// The app a request's Host header names (port and case ignored), else `defaultApp`, else
  /// the only app when there is just one.
  public func app(forHost host: String?, defaultApp: String? = nil) -> AppRoutes? {
    if let host {
      let bare = Self.bareHost(host)
      if let match = apps.first(where: { $0.hosts.contains(bare) }) { return match }
    }
    if let defaultApp { return app(named: defaultApp) }
    return apps.count == 1 ? apps[0] : nil
  }

  /// The table after making `color` live for `app` at `epoch`: the candidate becomes live and
  /// the old live set stays as the candidate, warm for a rollback.
  public func switching(_ app: String, to color: Color, epoch: Int64) throws(RouteError)
    -> RouteTable
  {
    guard epoch > self.epoch else {
      throw RouteError(.staleEpoch, "epoch \(epoch) is not after the current \(self.epoch)")
    }
    guard let index = apps.firstIndex(where: { $0.app == app }) else {
      throw RouteError(.unknownApp, "no routes for app '\(app)'")
    }
    var routes = apps[index]
    if routes.live?.color == color {
      throw RouteError(.alreadyLive, "\(color.rawValue) is already live for \(app)")
    }
    guard let target = routes.candidate, target.color == color else {
      throw RouteError(.noCandidate, "\(app) has no \(color.rawValue) set to switch to")
    }
    guard !target.upstreams.isEmpty else {
      throw RouteError(
        .noHealthyUpstream, "the \(color.rawValue) set of \(app) has no healthy slot")
    }
    routes.candidate = routes.live
    routes.live = target
    var next = self
    next.epoch = epoch
    next.apps[index] = routes
    return next
  }

  /// A Host header as routes name it: no port, no IPv6 brackets, lower case.
  public static func bareHost(_ host: String) -> String {
    // Every request asks this of its Host header: ASCII (nearly every host) is read as bytes,
    // with no Character walk and no copy when the name is already bare and lower-case.
    if let ascii = asciiBareHost(host) { return ascii }
    if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
      return host[host.index(after: host.startIndex)..<close].lowercased()
    }
    if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
      return host[..<colon].lowercased()
    }
    return host.lowercased()
  }

  /// `bareHost` for an ASCII host; nil for anything else.
  static func asciiBareHost(_ host: String) -> String? {
    let utf8 = host.utf8
    var colons = 0
    var lastColon = utf8.endIndex
    var upper = false
    for index in utf8.indices {
      let byte = utf8[index]
      if byte >= 0x80 { return nil }
      if byte == UInt8(ascii: ":") {
        colons += 1
        lastColon = index
      } else if byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") {
        upper = true
      }
    }
    var start = utf8.startIndex
    var end = utf8.endIndex
    if utf8.first == UInt8(ascii: "[") {
      // [v6]:port or [v6]: the address inside the brackets.
      guard let close = utf8.firstIndex(of: UInt8(ascii: "]")) else { return nil }
      start = utf8.index(after: start)
      end = close
    } else if colons == 1 {
      end = lastColon
    }
    if !upper, start == utf8.startIndex, end == utf8.endIndex { return host }
    var bytes = Array(utf8[start..<end])
    if upper {
      for offset in bytes.indices where bytes[offset] >= 65 && bytes[offset] <= 90 {
        bytes[offset] += 32
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// The error of the route table module.
public struct RouteError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Sendable {
    case staleEpoch = "stale_epoch"
    case unknownApp = "unknown_app"
    case noCandidate = "no_candidate"
    case alreadyLive = "already_live"
    case noHealthyUpstream = "no_healthy_upstream"
    case notPrepared = "not_prepared"
    /// The table leaves out an app the router serves, and the scheduler did not say it was
    /// deleted: a scheduler with an empty or wrong database.
    case dropsApps = "drops_apps"
  }

  public let code: Code
  public let message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
