import AgentDaemon
import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import Synchronization

/// `sched-sim`: many simulated nodes on one machine, each the real agent (its session,
/// registration, heartbeats and command handling) over its own TCP connection to a running
/// schedd, with a runtime that only acks. Measures what the scheduler spends on them.
@main
struct SchedSim: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sched-sim",
    abstract: "Simulated nodes against a running schedd: its CPU, memory and API under them.",
    discussion: """
      Start schedd with --insecure-cluster (and --join-token), then run sched-sim with its \
      process id. Phases: the nodes join (at --join-rate a second) until the scheduler lists \
      them all ready; heartbeats for --seconds, measuring schedd's CPU, the API's latency and \
      any node marked down; then --apps apps of --slots slots are deployed, measuring slots \
      placed and acked by their nodes a second. Every figure is printed; nothing is judged.
      Example: sched-sim --pid $(pidof schedd) --nodes 10000 --seconds 60 --apps 1500
      """)

  @Option(help: "The scheduler's cluster port (host:port).") var cluster = "127.0.0.1:7000"
  @Option(help: "The scheduler's API.") var api = "http://127.0.0.1:7070"
  @Option(help: "API token (default: $TURNOUT_API_TOKEN).") var token: String?
  @Option(help: "Join token schedd was started with (--insecure-cluster).") var joinToken: String
  @Option(help: "schedd's process id, for its CPU and memory.") var pid: Int32
  @Option(help: "Simulated nodes.") var nodes = 1000
  @Option(help: "Nodes started a second while joining.") var joinRate = 1000
  @Option(help: "Seconds of heartbeats measured.") var seconds = 60
  @Option(help: "Apps deployed after the heartbeats (0: none).") var apps = 0
  @Option(help: "Slots of each app.") var slots = 10
  @Option(help: "Deploys in flight at once (over plain HTTP, each on a connection of its own).")
  var concurrency = 16
  @Option(
    help: """
      Milliseconds between ticks of the one clock the simulated agents wait on between \
      heartbeats (a beat is due on the first tick after its time); 0 gives each agent a timer \
      of its own, as a real agent has, which costs this process far more CPU.
      """)
  var tickMillis = 10

  func run() async throws {
    let parts = cluster.split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1]) else {
      throw ValidationError("--cluster must be host:port, got '\(cluster)'")
    }
    guard let token = token ?? ProcessInfo.processInfo.environment["TURNOUT_API_TOKEN"] else {
      throw ValidationError("no API token: pass --token or set TURNOUT_API_TOKEN")
    }
    let schedd = ProcessStats(pid: pid)
    guard schedd.cpuSeconds() != nil else {
      throw ValidationError("no process \(pid): give schedd's process id with --pid")
    }
    let client = APIClient(baseURL: api, token: token, timeout: .seconds(60))
    let ledger = SimLedger()
    guard tickMillis >= 0 else { throw ValidationError("--tick-millis must be 0 or more") }
    let shared = tickMillis > 0 ? SharedPacer(tick: .milliseconds(tickMillis)) : nil
    defer { shared?.stop() }
    let pacer: any Pacer = shared ?? SleepPacer()
    let clock = ContinuousClock()
    let size = Resources(cpuMillis: 16_000, memoryBytes: 64 << 30)
    print(
      "sched-sim: \(nodes) nodes of 16 cores / 64 GiB against schedd (pid \(pid)) at \(cluster)")
    print(String(format: "  schedd before: RSS %.0f MiB", schedd.residentMiB() ?? 0))

    // Join, in batches.
    let joinStart = clock.now
    var tasks: [Task<Void, any Error>] = []
    let batch = max(1, joinRate / 10)
    var started = 0
    while started < nodes {
      let count = min(batch, nodes - started)
      tasks += startSimulatedNodes(
        count: count, first: started, total: nodes, host: String(parts[0]), port: port,
        token: joinToken, size: size, ledger: ledger, pacer: pacer)
      started += count
      try await Task.sleep(for: .milliseconds(100))
    }
    defer { for task in tasks { task.cancel() } }
    var ready = 0
    while ready < nodes, clock.now - joinStart < .seconds(300) {
      try await Task.sleep(for: .seconds(2))
      ready = (try? await client.nodes().filter { $0.state == .ready }.count) ?? ready
    }
    print(
      String(
        format: "  joined: %d of %d nodes ready after %.1f s; schedd RSS %.0f MiB", ready, nodes,
        (clock.now - joinStart).seconds, schedd.residentMiB() ?? 0))
    guard ready == nodes else { throw ExitCode.failure }

    // Heartbeats.
    try await Task.sleep(for: .seconds(5))
    let lastSeq = try await Self.lastEvent(client)
    let cpuStart = schedd.cpuSeconds() ?? 0
    let beatStart = clock.now
    var latencies = Latencies()
    while clock.now - beatStart < .seconds(seconds) {
      let asked = clock.now
      _ = try? await client.apps()
      latencies.add((clock.now - asked).seconds)
      try await Task.sleep(for: .milliseconds(200))
    }
    let cpu = ((schedd.cpuSeconds() ?? 0) - cpuStart) / (clock.now - beatStart).seconds
    let downs = try await Self.events(client, after: lastSeq).filter { $0.kind == "node.down" }
    let readyAfter = try await client.nodes().filter { $0.state == .ready }.count
    print(
      String(
        format:
          "  heartbeats: %d nodes at 1 a second for %d s: schedd CPU %.2f cores (%.1f%% of a core per 1,000 beats a second); %d nodes marked down, %d of %d ready at the end; RSS %.0f MiB",
        nodes, seconds, cpu, cpu * 100 * 1000 / Double(nodes), downs.count, readyAfter, nodes,
        schedd.residentMiB() ?? 0))
    print("  API meanwhile (GET /v1/apps every 200 ms): \(latencies.summary)")

    guard apps > 0 else { return }
    try await deploy(
      client, lanes: DeployLanes(api: api, token: token), ledger: ledger, schedd: schedd)
  }

  /// Applies `apps` apps, then deploys them all, `concurrency` at a time; prints slots acked a
  /// second, end to end. Over `lanes` when the API is plain HTTP, else through `client`.
  func deploy(_ client: APIClient, lanes: DeployLanes?, ledger: SimLedger, schedd: ProcessStats)
    async throws
  {
    let clock = ContinuousClock()
    let names = (0..<apps).map { "sim\($0)" }
    for name in names {
      _ = try await client.apply(
        AppSpec(
          name: name, image: "sim:1", slots: slots,
          resources: Resources(cpuMillis: 250, memoryBytes: 256 << 20)))
    }
    print("  \(apps) apps applied; deploying")
    let lastSeq = try await Self.lastEvent(client)
    let cpuStart = schedd.cpuSeconds() ?? 0
    let start = clock.now
    let deployLatencies = try await withThrowingTaskGroup(of: [(String, Double)].self) { group in
      for lane in 0..<concurrency {
        let mine = names.enumerated().filter { $0.offset % concurrency == lane }.map(\.element)
        group.addTask {
          let answers = Mutex<[(String, Double)]>([])
          let answered: @Sendable (DeployResponse, Duration) -> Void = { response, took in
            ledger.expect(response.deployment, slots: response.placed.count)
            answers.withLock { $0.append((response.deployment, took.seconds)) }
          }
          if let lanes {
            try await lanes.run(mine, answered: answered)
          } else {
            // https:// APIs: one request after another through the API client.
            for name in mine {
              let asked = ContinuousClock.now
              answered(try await client.deploy(name, image: nil), ContinuousClock.now - asked)
            }
          }
          return answers.withLock { $0 }
        }
      }
      var all: [(String, Double)] = []
      for try await lane in group { all += lane }
      return all
    }
    let placedAt = clock.now
    let deployments = Set(deployLatencies.map(\.0))
    var counts = ledger.snapshot()
    while deployments.contains(where: { counts.completed[$0] == nil }),
      clock.now - placedAt < .seconds(120)
    {
      try await Task.sleep(for: .milliseconds(50))
      counts = ledger.snapshot()
    }
    let done = deployments.compactMap { counts.completed[$0] }
    let acked = deployments.reduce(0) { $0 + (counts.slots[$1] ?? 0) }
    let last = done.max() ?? clock.now
    let elapsed = (last - start).seconds
    let cpu = ((schedd.cpuSeconds() ?? 0) - cpuStart) / (clock.now - start).seconds
    var latencies = Latencies()
    for (_, latency) in deployLatencies { latencies.add(latency) }
    print(
      String(
        format:
          "  deploys: %d apps of %d slots, %d at a time: all placed (API answered) in %.2f s; %d of %d slots acked by their nodes, %d of %d deploys whole, the last %.2f s after the first request: %.0f slots placed and acked a second; schedd CPU %.2f cores; RSS %.0f MiB",
        apps, slots, concurrency, (placedAt - start).seconds, acked, apps * slots, done.count,
        apps, elapsed, Double(acked) / elapsed, cpu, schedd.residentMiB() ?? 0))
    print("  deploy requests: \(latencies.summary)")
    let kinds = Dictionary(
      grouping: try await Self.events(client, after: lastSeq).map(\.kind), by: { $0 }
    ).mapValues(\.count).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
    print("  events meanwhile: \(kinds.joined(separator: ", "))")
  }

  static func lastEvent(_ client: APIClient) async throws -> Int64 {
    var after: Int64 = 0
    while true {
      let page = try await client.events(after: after, limit: 1000)
      guard let last = page.last?.seq else { return after }
      after = last
    }
  }

  static func events(_ client: APIClient, after: Int64) async throws -> [ClusterEvent] {
    var out: [ClusterEvent] = []
    var cursor = after
    while true {
      let page = try await client.events(after: cursor, limit: 1000)
      guard let last = page.last?.seq else { return out }
      out += page
      cursor = last
    }
  }
}
