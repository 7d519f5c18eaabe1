import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient
import SchedModel

/// `schedctl top`: nodes and sets with live CPU, memory and request rates, redrawn every
/// interval until Ctrl-C.
struct TopCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "top",
    abstract: "Watch nodes and sets: CPU, memory and request rates, refreshing.",
    usage:
      "schedctl top [--interval <duration>] [--once] [--frames <n>]\n         [<global options>]",
    discussion: """
      Nodes show what their agents measure against capacity, and what slots reserve. Sets show \
      their containers' CPU and memory and the request rate through the routers over the last \
      minute (from the scheduler's 10 s samples). Ctrl-C stops it.

      With -o json each frame is one JSON object on a line of its own (the nodes and \
      every set with its last minute), and the screen is not cleared.

      Examples:
        schedctl top                 # redraw every 2 s
        schedctl top --interval 5s
        schedctl top --once          # one frame, for scripts
        schedctl top --once -o json
      """)

  @OptionGroup var global: GlobalOptions

  @Option(help: "Time between frames, like 2s or 500ms.")
  var interval: String = "2s"

  @Flag(help: "Print one frame and exit, without clearing the screen.")
  var once = false

  @Option(help: "Stop after this many frames (default: until Ctrl-C).")
  var frames: Int?

  func run() async throws {
    let client = try global.client()
    let every: Duration
    do {
      every = try Parsing.duration(interval)
    } catch {
      throw ValidationError(error.message)
    }
    let limit = once ? 1 : frames
    var drawn = 0
    while limit.map({ drawn < $0 }) ?? true {
      let data = try await Self.data(client)
      switch global.output {
      case .table:
        let clear = once ? "" : "\u{1B}[H\u{1B}[2J"
        FileHandle.standardOutput.write(Data((clear + Self.render(data) + "\n").utf8))
      case .json:
        FileHandle.standardOutput.write(try Self.jsonLine(data))
      }
      drawn += 1
      if let limit, drawn >= limit { break }
      try await Task.sleep(for: every)
    }
  }

  /// What one frame shows.
  struct Frame: Sendable {
    var at: Date
    var nodes: [NodeView]
    var statuses: [AppStatusResponse]
    var points: [SamplePoint]
  }

  /// A frame for scripts: the nodes, and each set with its last minute's summary.
  struct FrameJSON: Encodable {
    struct SetJSON: Encodable {
      var app: String
      var color: Color
      var live: Bool
      var state: String
      var healthy: Int
      var slots: Int
      var cpuMillis: Double?
      var memoryBytes: Double?
      var requestsPerSecond: Double?
      var failurePercent: Double?

      enum CodingKeys: String, CodingKey {
        case app, color, live, state, healthy, slots
        case cpuMillis = "cpu_millis"
        case memoryBytes = "memory_bytes"
        case requestsPerSecond = "requests_per_second"
        case failurePercent = "failure_percent"
      }
    }
    var at: Date
    var nodes: [NodeView]
    var sets: [SetJSON]
  }

  static func jsonLine(_ frame: Frame) throws -> Data {
    var sets: [FrameJSON.SetJSON] = []
    for status in frame.statuses {
      let recent = RecentTraffic.summarize(frame.points, app: status.app.name)
      for set in status.sets {
        let traffic = recent.first { $0.color == set.color }
        sets.append(
          .init(
            app: status.app.name, color: set.color, live: set.live, state: set.state.rawValue,
            healthy: set.healthy, slots: set.slots.count, cpuMillis: traffic?.cpuMillis,
            memoryBytes: traffic?.memoryBytes, requestsPerSecond: traffic?.latestRate,
            failurePercent: traffic?.failures))
      }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .secondsSince1970
    var line = try encoder.encode(FrameJSON(at: frame.at, nodes: frame.nodes, sets: sets))
    line.append(UInt8(ascii: "\n"))
    return line
  }

  /// One frame as people read it: the time, the nodes table and the sets table.
  static func render(_ frame: Frame) -> String {
    let stamp = ISO8601DateFormatter().string(from: frame.at)
    return "schedctl top  \(stamp)\n\n" + nodesTable(frame.nodes) + "\n\n"
      + setsTable(frame.statuses, points: frame.points)
  }

  /// Reads what one frame shows.
  static func data(_ client: APIClient) async throws -> Frame {
    let nodes = try await Exit.guarding { try await client.nodes() }
    let apps = try await Exit.guarding { try await client.apps() }
    var statuses: [AppStatusResponse] = []
    for app in apps.sorted(by: { $0.name < $1.name }) {
      if let status = try? await client.status(app.name) { statuses.append(status) }
    }
    let since = Int64(Date().timeIntervalSince1970) - 60
    let series = statuses.flatMap { RecentTraffic.series(app: $0.app.name) }
    let points =
      series.isEmpty
      ? [] : try await Exit.guarding { try await client.samples(series, since: since) }
    return Frame(at: Date(), nodes: nodes, statuses: statuses, points: points)
  }

  static func nodesTable(_ nodes: [NodeView]) -> String {
    guard !nodes.isEmpty else { return "No nodes yet." }
    var table = Table("NODE", "STATE", "CPU USED", "CPU RESERVED", "MEM USED", "MEM RESERVED")
    for node in nodes {
      func share(_ part: Int64, _ whole: Int64) -> String {
        whole > 0 ? " (\(part * 100 / whole)%)" : ""
      }
      let cpu = node.usage?.cpuUsedMillis
      let memory = node.usage?.memoryUsedBytes
      table.add(
        node.name, node.state.rawValue,
        cpu.map {
          "\(Quantity.formatCPU($0))/\(Quantity.formatCPU(node.capacity.cpuMillis))"
            + share($0, node.capacity.cpuMillis)
        } ?? "-",
        Quantity.formatCPU(node.allocated.cpuMillis)
          + share(node.allocated.cpuMillis, node.capacity.cpuMillis),
        memory.map {
          "\(Quantity.formatMemory($0))/\(Quantity.formatMemory(node.capacity.memoryBytes))"
            + share($0, node.capacity.memoryBytes)
        } ?? "-",
        Quantity.formatMemory(node.allocated.memoryBytes)
          + share(node.allocated.memoryBytes, node.capacity.memoryBytes))
    }
    return table.render()
  }

  static func setsTable(_ statuses: [AppStatusResponse], points: [SamplePoint]) -> String {
    guard statuses.contains(where: { !$0.sets.isEmpty }) else { return "No sets yet." }
    var table = Table(
      "APP", "COLOR", "ROLE", "SLOTS", "CPU", "MEMORY", "REQ/S", "5XX+ERR", "LAST MINUTE")
    for status in statuses {
      let recent = RecentTraffic.summarize(points, app: status.app.name)
      for set in status.sets {
        let traffic = recent.first { $0.color == set.color }
        table.add(
          status.app.name, set.color.rawValue, set.live ? "live" : "standby",
          "\(set.healthy)/\(set.slots.count) \(set.state.rawValue)",
          traffic?.cpuMillis.map { Quantity.formatCPU(Int64($0.rounded())) } ?? "-",
          traffic?.memoryBytes.map { Quantity.formatMemory(Int64($0)) } ?? "-",
          traffic.map { RecentTraffic.rate($0.latestRate) } ?? "-",
          RecentTraffic.percent(traffic?.failures), traffic?.trend ?? "")
      }
    }
    return table.render()
  }
}
