import SchedModel

/// How a proxied request ended, as the router counts it.
public enum StatusClass: Int, Sendable, CaseIterable {
  case success = 0
  case redirect
  case clientError
  case serverError
  /// The router answered itself: no upstream, connect failed twice, upstream broke or timed out.
  case proxyError

  /// The class of an upstream's status code.
  public init(status code: Int) {
    switch code {
    case ..<300: self = .success
    case 300..<400: self = .redirect
    case 400..<500: self = .clientError
    default: self = .serverError
    }
  }
}

/// Request latencies in fixed buckets, so histograms from every event loop and every router add
/// up exactly. Bounds are upper bounds in microseconds; the last bucket has no bound.
public struct LatencyHistogram: Codable, Sendable, Hashable {
  public static let defaultBounds: [Int64] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
  ]

  public private(set) var boundsMicros: [Int64]
  public private(set) var counts: [Int64]
  /// Every recorded latency added up, for a Prometheus histogram's `_sum` (0 in reports from
  /// routers older than it).
  public private(set) var sumMicros: Int64 = 0

  public init(boundsMicros: [Int64] = Self.defaultBounds) {
    self.boundsMicros = boundsMicros
    self.counts = Array(repeating: 0, count: boundsMicros.count + 1)
  }

  public var total: Int64 { counts.reduce(0, +) }

  public mutating func record(micros: Int64) {
    sumMicros &+= max(0, micros)
    counts[bucket(of: micros)] += 1
  }

  /// The upper bound of the bucket holding quantile `q` (0...1); nil when empty, and the last
  /// bound when it falls in the unbounded bucket.
  public func quantileMicros(_ q: Double) -> Int64? {
    let total = self.total
    guard total > 0 else { return nil }
    let rank = max(1, Int64((Double(total) * q).rounded(.up)))
    var seen: Int64 = 0
    for (i, count) in counts.enumerated() {
      seen += count
      if seen >= rank { return i < boundsMicros.count ? boundsMicros[i] : boundsMicros.last }
    }
    return boundsMicros.last
  }

  /// Adds `other`'s counts; histograms with other bounds are added by the bucket they fall in.
  public mutating func merge(_ other: LatencyHistogram) {
    defer { sumMicros &+= other.sumMicros }
    if other.boundsMicros == boundsMicros {
      for i in counts.indices { counts[i] += other.counts[i] }
      return
    }
    for (i, count) in other.counts.enumerated() where count > 0 {
      let micros =
        i < other.boundsMicros.count ? other.boundsMicros[i] : (other.boundsMicros.last ?? 0) + 1
      counts[bucket(of: micros)] += count
    }
  }

  private func bucket(of micros: Int64) -> Int {
    boundsMicros.firstIndex { micros <= $0 } ?? boundsMicros.count
  }

  enum CodingKeys: String, CodingKey {
    case boundsMicros = "bounds_us"
    case counts
    case sumMicros = "sum_us"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    boundsMicros = try c.decode([Int64].self, forKey: .boundsMicros)
    counts = try c.decode([Int64].self, forKey: .counts)
    sumMicros = try c.decodeIfPresent(Int64.self, forKey: .sumMicros) ?? 0
    guard counts.count == boundsMicros.count + 1 else {
      throw DecodingError.dataCorruptedError(
        forKey: .counts, in: c, debugDescription: "must have one more entry than bounds_us")
    }
  }
}

/// Which listener a request came in on: production (the live set) or the preview route (the
/// candidate set, through the preview listener or header, as `schedctl verify` checks it).
/// Counted apart, so checks never show up as production traffic.
public enum TrafficRoute: String, Codable, Sendable, Hashable, CaseIterable {
  case production
  case preview
}

/// One app color's traffic through a router since it started, on one route: requests, how they
/// ended, how long they took, and how many are in flight now.
public struct SetTraffic: Codable, Sendable, Hashable {
  public var app: String
  public var color: Color
  public var route: TrafficRoute
  /// Requests answered (by an upstream or by the router itself).
  public var requests: Int64
  /// Counts per `StatusClass`: 2xx, 3xx, 4xx, 5xx, proxy errors.
  public var status: [Int64]
  public var inFlight: Int64
  public var latency: LatencyHistogram

  public init(app: String, color: Color, route: TrafficRoute = .production) {
    self.app = app
    self.color = color
    self.route = route
    self.requests = 0
    self.status = Array(repeating: 0, count: StatusClass.allCases.count)
    self.inFlight = 0
    self.latency = LatencyHistogram()
  }

  public subscript(_ kind: StatusClass) -> Int64 { status[kind.rawValue] }

  public mutating func record(_ kind: StatusClass, micros: Int64) {
    requests += 1
    status[kind.rawValue] += 1
    latency.record(micros: micros)
  }

  public mutating func merge(_ other: SetTraffic) {
    requests += other.requests
    for i in status.indices where i < other.status.count { status[i] += other.status[i] }
    inFlight += other.inFlight
    latency.merge(other.latency)
  }

  /// Sums traffic by app, color and route, sorted (production before preview).
  public static func merged(_ parts: [SetTraffic]) -> [SetTraffic] {
    var out: [String: SetTraffic] = [:]
    for part in parts {
      let key = "\(part.app)/\(part.color.rawValue)/\(part.route.rawValue)"
      if out[key] == nil {
        out[key] = SetTraffic(app: part.app, color: part.color, route: part.route)
      }
      out[key]!.merge(part)
    }
    return out.values.sorted {
      ($0.app, $0.route.rawValue, $0.color.rawValue) < (
        $1.app, $1.route.rawValue, $1.color.rawValue
      )
    }
  }

  enum CodingKeys: String, CodingKey {
    case app, color, route, requests, status, latency
    case inFlight = "in_flight"
  }

  /// Status classes on the wire: `2xx`, `3xx`, `4xx`, `5xx`, `proxy_error`.
  static let statusKeys = ["2xx", "3xx", "4xx", "5xx", "proxy_error"]

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    app = try c.decode(String.self, forKey: .app)
    color = try c.decode(Color.self, forKey: .color)
    route = try c.decodeIfPresent(TrafficRoute.self, forKey: .route) ?? .production
    requests = try c.decode(Int64.self, forKey: .requests)
    inFlight = try c.decode(Int64.self, forKey: .inFlight)
    latency = try c.decode(LatencyHistogram.self, forKey: .latency)
    let byKey = try c.decode([String: Int64].self, forKey: .status)
    status = Self.statusKeys.map { byKey[$0] ?? 0 }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(app, forKey: .app)
    try c.encode(color, forKey: .color)
    if route != .production { try c.encode(route, forKey: .route) }
    try c.encode(requests, forKey: .requests)
    try c.encode(inFlight, forKey: .inFlight)
    try c.encode(latency, forKey: .latency)
    try c.encode(
      Dictionary(uniqueKeysWithValues: zip(Self.statusKeys, status)), forKey: .status)
  }
}
