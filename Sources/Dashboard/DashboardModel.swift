import OperatorAPI
import SchedModel

/// Everything one dashboard page shows, read at one moment. Built by the scheduler from its
/// own state; rendering it is pure.
public struct DashboardModel: Sendable {
  public var nodes: [NodeView]
  public var apps: [AppStatusResponse]
  public var routers: [RouterView]
  /// Newest first.
  public var events: [ClusterEvent]
  /// Stored points by series name (`set/APP/COLOR/requests`, ...), oldest first.
  public var samples: [String: [SamplePoint]]
  /// Unix seconds.
  public var now: Int64
  /// How far back the graphs reach, seconds.
  public var window: Int64
  /// Recent builds, newest first, and the last lines of the running ones' output.
  public var builds: [BuildRecord] = []
  public var buildLogs: [String: [String]] = [:]
  /// The certificates routers serve HTTPS with, and the names kept over ACME.
  public var certificates = CertificatesResponse(certificates: [])
  /// The API token the session was opened with.
  public var viewer: Viewer?

  /// The name and role of the session's token.
  public struct Viewer: Sendable, Equatable {
    public var name: String
    public var role: OperatorRole

    public init(name: String, role: OperatorRole) {
      self.name = name
      self.role = role
    }
  }

  public init(
    nodes: [NodeView], apps: [AppStatusResponse], routers: [RouterView], events: [ClusterEvent],
    samples: [String: [SamplePoint]], now: Int64, window: Int64 = 1800
  ) {
    self.nodes = nodes
    self.apps = apps
    self.routers = routers
    self.events = events
    self.samples = samples
    self.now = now
    self.window = window
  }

  /// The series the graphs of `app` read.
  public static func series(app: String) -> [String] { SeriesName.sets(app: app) }

  func points(_ series: String) -> [(at: Int64, value: Double)] {
    (samples[series] ?? []).map { ($0.start, $0.mean) }
  }

  /// The share of each status class in the requests of one set, per bucket, in percent.
  func statusShares(app: String, color: Color) -> [Chart.Line] {
    var totals: [Int64: Double] = [:]
    for point in points(SeriesName.set(app, color, "requests")) { totals[point.at] = point.value }
    return [
      ("2xx", "ok"), ("3xx", "redirect"), ("4xx", "client"), ("5xx", "server"),
      ("proxy_error", "proxy"),
    ].map { name, css in
      let share = points(SeriesName.set(app, color, name)).compactMap {
        point -> (at: Int64, value: Double)? in
        guard let total = totals[point.at], total > 0 else { return nil }
        return (point.at, point.value / total * 100)
      }
      return Chart.Line(
        label: name == "proxy_error" ? "proxy errors" : name, cssClass: css, points: share)
    }
  }

  /// The graphs of one app: requests per second per colour, the status classes' shares per
  /// colour, CPU and memory per set.
  public func charts(app: String) -> [Chart] {
    let from = now - window
    func perColor(_ metric: String) -> [Chart.Line] {
      Color.allCases.map {
        Chart.Line(
          label: $0.rawValue, cssClass: $0.rawValue,
          points: points(SeriesName.set(app, $0, metric)))
      }
    }
    return [
      Chart(
        title: "requests per second", unit: .perSecond, lines: perColor("requests"), from: from,
        to: now),
      Chart(
        title: "status classes, blue", unit: .percent, lines: statusShares(app: app, color: .blue),
        from: from, to: now),
      Chart(
        title: "status classes, green", unit: .percent,
        lines: statusShares(app: app, color: .green), from: from, to: now),
      Chart(title: "CPU per set", unit: .cores, lines: perColor("cpu"), from: from, to: now),
      Chart(title: "memory per set", unit: .bytes, lines: perColor("memory"), from: from, to: now),
    ]
  }
}
