/// One measured value of one series at one moment (unix seconds).
public struct Sample: Codable, Sendable, Hashable {
  public var series: String
  public var at: Int64
  public var value: Double

  public init(series: String, at: Int64, value: Double) {
    self.series = series
    self.at = at
    self.value = value
  }
}

/// The names of stored series, written by the scheduler's sampler and read by the dashboard,
/// `schedctl status` and `top`: `node/NODE/cpu|memory` and `set/APP/COLOR/METRIC`.
public enum SeriesName {
  /// What is sampled per set: request rates overall and by status class, containers' use.
  public static let setMetrics = [
    "requests", "2xx", "3xx", "4xx", "5xx", "proxy_error", "cpu", "memory",
  ]

  public static func node(_ node: String, _ metric: String) -> String { "node/\(node)/\(metric)" }

  public static func set(_ app: String, _ color: Color, _ metric: String) -> String {
    "set/\(app)/\(color.rawValue)/\(metric)"
  }

  /// Every set series of `app`, both colours.
  public static func sets(app: String) -> [String] {
    Color.allCases.flatMap { color in setMetrics.map { set(app, color, $0) } }
  }
}

/// A stored point: the mean of the samples that fell in its bucket of one tier.
public struct SamplePoint: Codable, Sendable, Hashable {
  public var series: String
  /// The tier's bucket width, seconds.
  public var resolution: Int64
  /// The bucket's start, unix seconds.
  public var start: Int64
  public var mean: Double
  public var count: Int64

  public init(series: String, resolution: Int64, start: Int64, mean: Double, count: Int64) {
    self.series = series
    self.resolution = resolution
    self.start = start
    self.mean = mean
    self.count = count
  }
}

/// Downsampling and retention: every sample lands in one bucket per tier; a tier keeps its
/// buckets for a bounded time, so the store's size is bounded by series x sum(keep / width).
public struct Retention: Sendable, Hashable {
  public struct Tier: Sendable, Hashable {
    public var resolution: Int64
    public var keep: Int64

    public init(resolution: Int64, keep: Int64) {
      self.resolution = resolution
      self.keep = keep
    }
  }

  public var tiers: [Tier]

  /// 10 s points for a day, 1 min points for 30 days.
  public static let standard = Retention(tiers: [
    Tier(resolution: 10, keep: 86_400), Tier(resolution: 60, keep: 30 * 86_400),
  ])

  public init(tiers: [Tier]) { self.tiers = tiers }

  /// The start of the bucket of `tier` that holds `at`.
  public static func bucket(_ at: Int64, _ tier: Tier) -> Int64 {
    at - ((at % tier.resolution) + tier.resolution) % tier.resolution
  }

  /// Buckets of `tier` starting before this are dropped at `now`.
  public static func cutoff(now: Int64, _ tier: Tier) -> Int64 { now - tier.keep }

  /// The most points one series can hold.
  public var pointsPerSeries: Int64 {
    tiers.reduce(0) { $0 + $1.keep / $1.resolution + 1 }
  }
}
