import ArgumentParser
import Foundation
import SchedClient
import SchedModel
import SchedWire

/// `schedctl top`: nodes and sets with live CPU, memory and request rates, redrawn every
/// interval until Ctrl-C.
struct TopCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "top",
    abstract: "Watch nodes and sets: CPU, memory and request rates, refreshing.",
    discussion: """
      Nodes show what their agents measure against capacity, and what slots reserve. Sets show
      their containers' CPU and memory and the request rate through the routers over the last
      minute (from the scheduler's 10 s samples). Ctrl-C stops it.

      Examples:
        schedctl top                 # redraw every 2 s
        schedctl top --interval 5s
        schedctl top --once          # one frame, for scripts
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
      let frame = try await Self.frame(client)
      let clear = once ? "" : "\u{1B}[H\u{1B}[2J"
      FileHandle.standardOutput.write(Data((clear + frame + "\n").utf8))
      drawn += 1
      if let limit, drawn >= limit { break }
      try await Task.sleep(for: every)
    }
  }

  /// One frame: the time, the nodes table and the sets table.
  static func frame(_ client: APIClient) async throws -> String {
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
    let stamp = ISO8601DateFormatter().string(from: Date())
    return "schedctl top  \(stamp)\n\n" + nodesTable(nodes) + "\n\n"
      + setsTable(statuses, points: points)
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
