import ArgumentParser
import Foundation
import OperatorAPI
import RouteTable
import SchedClient
import SchedModel

/// `schedctl deploy APP --image IMAGE`: build the idle color and wait until it is ready.
struct DeployCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "deploy",
    abstract:
      "Build the app's idle color (blue or green) from an image and wait until it is healthy.",
    usage:
      "schedctl deploy <app> [--image <image>] [--timeout <timeout>] [--no-wait]\n         [--build [--context <dir> | --git <url> --ref <ref>] [--full]]\n         [<global options>]",
    discussion: """
      All or nothing: if the set does not fit, nothing is placed and each slot says why. \
      Progress is printed as slots come up. Exits 0 when every slot is healthy, 1 when a slot \
      is refused or the set is not ready before --timeout.

      A deploy holds the app until its set is ready or a slot fails (15 minutes at most): a \
      second deploy, or a verify, meanwhile is refused (not queued) with who holds the app and \
      since when. To give up on a deploy, stop its set: schedctl stop-set APP COLOR.

      If the scheduler restarts while the set comes up, the deploy goes on and this command \
      keeps asking until --timeout; then it says the deployment was accepted and its state is \
      unknown (exit 69).

      With --build, the image is built first on a builder node (see schedctl build --help; \
      the same --context, --git, --ref, --dockerfile and --full), and the candidate runs \
      exactly the digest that build stored. A failed build deploys nothing.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  @Option(help: "The image to run (default: the spec's image).")
  var image: String?

  @Option(help: "How long to wait for every slot to be healthy.")
  var timeout: String = "120s"

  @Flag(help: "Return once the plan is committed, without waiting.")
  var noWait = false

  @Flag(help: "Build the image in the cluster first, then deploy what was built.")
  var build = false

  @OptionGroup var source: BuildOptions

  func validate() throws {
    if build && image != nil { throw ValidationError("give --image or --build, not both") }
    if !build && (source.context != nil || source.git != nil || source.full) {
      throw ValidationError("--context, --git and --full go with --build")
    }
  }

  func run() async throws {
    let wait: Duration
    do { wait = try Parsing.duration(timeout) } catch { throw ValidationError(error.message) }
    let client = try global.client()
    var image = self.image
    if build {
      let built = try await source.run(app: app, client: client, output: global.output)
      if built.failure != nil { try BuildOptions.report(built, output: global.output) }
      image = built.reference
      if global.output == .table {
        print("built \(built.reference) (\(built.image?.short ?? "?")); deploying it")
      }
    }
    let started = ContinuousClock.now
    let deployed = try await Exit.guarding { [image] in try await client.deploy(app, image: image) }
    if global.output == .table {
      print(
        "placed \(deployed.placed.count) slot(s) of \(app) \(deployed.color.rawValue) (deployment \(deployed.deployment), \(deployed.image))"
      )
    }
    if noWait {
      if global.output == .json { try printJSON(deployed) }
      return
    }
    var seen: [Int: SlotHealth] = [:]
    var pullsSeen: [String: String] = [:]
    let deadline = started + wait
    var told = false
    while true {
      // The scheduler may restart while the set comes up: the deploy was accepted and goes on,
      // so its reads are tried again until --timeout before saying what is known.
      let status: AppStatusResponse
      do {
        status = try await Patient.read(
          until: deadline,
          onRetry: { error in
            guard !told else { return }
            told = true
            FileHandle.standardError.write(
              Data(
                "warning: \(error.message); deployment \(deployed.deployment) was accepted, waiting for the scheduler\n"
                  .utf8))
          }
        ) { try await client.status(app) }
      } catch let error as ClientError where error.schedulerAway {
        FileHandle.standardError.write(
          Data(
            "error: accepted as deployment \(deployed.deployment) (\(deployed.color.rawValue), \(deployed.image)); its state is unknown: \(error.message). Check with: schedctl status \(app)\n"
              .utf8))
        throw ExitCode(Exit.unavailable)
      } catch {
        status = try await Exit.guarding { throw error }
      }
      guard
        let set = status.sets.first(where: {
          $0.color == deployed.color && $0.deployment == deployed.deployment
        })
      else {
        FileHandle.standardError.write(
          Data(
            "error: the \(deployed.color.rawValue) set was replaced or stopped while deploying\n"
              .utf8))
        throw ExitCode(Exit.failed)
      }
      for line in set.pulls where global.output == .table {
        let text = Self.describe(line.pull)
        if pullsSeen[line.node.rawValue] != text {
          pullsSeen[line.node.rawValue] = text
          print("  \(line.node): \(text)")
        }
      }
      for slot in set.slots where seen[slot.index] != slot.health {
        seen[slot.index] = slot.health
        if global.output == .table {
          let detail = slot.message.map { " (\($0))" } ?? ""
          print(
            "  slot \(slot.index) on \(slot.node) \(slot.address):\(slot.hostPort): \(slot.health.rawValue)\(detail)"
          )
        }
      }
      let elapsed = ContinuousClock.now - started
      if set.state == .ready {
        if global.output == .json {
          try printJSON(set)
        } else {
          print(
            "ready: \(set.healthy)/\(set.slots.count) healthy in \(String(format: "%.1f", elapsed.seconds))s"
          )
        }
        return
      }
      if let refused = set.slots.first(where: { $0.health == .refused }) {
        FileHandle.standardError.write(
          Data(
            "error: slot \(refused.index) on \(refused.node) was refused: \(refused.message ?? "no reason given")\n"
              .utf8))
        throw ExitCode(Exit.failed)
      }
      if elapsed > wait {
        let waiting = set.slots.filter { $0.health != .healthy }
          .map { "slot \($0.index) \($0.health.rawValue)\($0.message.map { ": \($0)" } ?? "")" }
        FileHandle.standardError.write(
          Data("error: not ready after \(timeout): \(waiting.joined(separator: "; "))\n".utf8))
        throw ExitCode(Exit.failed)
      }
      try await Task.sleep(for: .milliseconds(200))
    }
  }
}

extension DeployCommand {
  /// "image web:2: 1 of 4 layers to fetch, 5.0 KiB of 5.0 KiB" as a node reports its fetch.
  static func describe(_ pull: ImagePull) -> String {
    let bytes =
      "\(ByteCount.text(pull.bytesFetched)) of \(ByteCount.text(pull.bytesToFetch))"
    let layers = "\(pull.layersFetched) of \(pull.layers) layer(s) fetched"
    switch pull.state {
    case .pulling:
      return
        "fetching \(pull.reference) from the cluster's store: \(pull.layersFetched) of \(pull.layers) layer(s) under way, \(bytes)"
    case .done:
      let rest = pull.layersFetched < pull.layers ? ", the engine held the rest" : ""
      return "has \(pull.reference): \(layers) (\(bytes))\(rest)"
    case .failed: return "could not get \(pull.reference): \(pull.message ?? "no reason given")"
    }
  }
}

/// `schedctl status APP`: both colors, each slot's node, address, container and health, the
/// routers' counters, and the last minutes of traffic from the stored samples.
struct StatusCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show an app's blue and green sets, every slot's state, and its recent traffic.",
    usage: "schedctl status <app> [--minutes <minutes>] [<global options>]",
    discussion: """
      The routers' counts are per color and route: production (the live set's listener) and \
      preview (the preview listener or header, where schedctl verify checks the candidate). \
      The last table sums the scheduler's stored samples (a point every 10 s) over --minutes: \
      requests per second on average and now, the share of 2xx, 4xx and 5xx-or-proxy-error \
      answers, a trend line of the request rate, and the set's CPU and memory.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  @Option(help: "How many minutes of traffic to show.")
  var minutes: Int = 5

  func validate() throws {
    guard (1...1440).contains(minutes) else { throw ValidationError("--minutes must be 1 to 1440") }
  }

  func run() async throws {
    let client = try global.client()
    let status = try await Exit.guarding { try await client.status(app) }
    let since = Int64(Date().timeIntervalSince1970) - Int64(minutes * 60)
    let points = try await Exit.guarding {
      try await client.samples(RecentTraffic.series(app: app), resolution: 10, since: since)
    }
    let recent = RecentTraffic.summarize(points, app: app)
    switch global.output {
    case .json: try printJSON(status)
    case .table: print(Self.render(status) + Self.render(recent, minutes: minutes))
    }
  }

  static func render(_ recent: [RecentTraffic], minutes: Int) -> String {
    guard !recent.isEmpty else {
      return "\nlast \(minutes) min: no samples yet (the scheduler stores one every 10 s)\n"
    }
    var table = Table(
      "COLOR", "REQ/S AVG", "REQ/S NOW", "2XX", "4XX", "5XX+ERR", "CPU", "MEMORY", "TREND")
    for set in recent {
      table.add(
        set.color.rawValue, RecentTraffic.rate(set.averageRate),
        RecentTraffic.rate(set.latestRate), RecentTraffic.percent(set.success),
        RecentTraffic.percent(set.clientErrors), RecentTraffic.percent(set.failures),
        set.cpuMillis.map { Quantity.formatCPU(Int64($0.rounded())) } ?? "-",
        set.memoryBytes.map { Quantity.formatMemory(Int64($0)) } ?? "-", set.trend)
    }
    return "\nlast \(minutes) min (10 s points)\n" + table.render() + "\n"
  }

  static func render(_ status: AppStatusResponse) -> String {
    var out =
      "\(status.app.name): \(status.app.spec.slots) x \(Quantity.formatCPU(status.app.spec.resources.cpuMillis)) CPU, \(Quantity.formatMemory(status.app.spec.resources.memoryBytes)); live: \(status.app.live?.rawValue ?? "none")\n"
    if let build = status.lastBuild {
      let took = build.durationMillis.map { String(format: ", %.1f s", Double($0) / 1000) } ?? ""
      let outcome =
        build.failure.map { "failed: \($0.summary)" } ?? build.image.map {
          "\(build.reference) \($0.short)"
        } ?? build.state.rawValue
      out +=
        "last build: \(build.id) (\(build.kind.rawValue) of \(build.ref) by \(build.actor)\(took)): \(outcome)\n"
    }
    if let replacement = status.replacement, replacement.braked {
      out += NodesCommand.replacementLines(
        ReplacementStatus(braked: true, reason: replacement.reason))
    }
    if status.sets.isEmpty {
      return out + "No sets. Build one with schedctl deploy \(status.app.name)."
    }
    for set in status.sets {
      out +=
        "\n\(set.color.rawValue)\(set.live ? " (live)" : "")  \(set.image)  deployment \(set.deployment)  \(set.state.rawValue) \(set.healthy)/\(set.slots.count)\n"
      var table = Table("SLOT", "NODE", "ADDRESS", "CONTAINER", "HEALTH", "DETAIL")
      for slot in set.slots {
        table.add(
          String(slot.index), slot.node.rawValue, "\(slot.address):\(slot.hostPort)",
          slot.containerID ?? "-",
          slot.health.rawValue, slot.message ?? "")
      }
      out += table.render() + "\n"
    }
    if !status.traffic.isEmpty {
      out += "\ntraffic through routers (epoch \(status.epoch))\n"
      var table = Table(
        "COLOR", "ROUTE", "REQUESTS", "2XX", "3XX", "4XX", "5XX", "PROXY ERR", "IN FLIGHT", "P50",
        "P99")
      for traffic in status.traffic {
        func ms(_ q: Double) -> String {
          traffic.latency.quantileMicros(q).map { Self.formatMicros($0) } ?? "-"
        }
        table.add(
          traffic.color.rawValue, traffic.route.rawValue, String(traffic.requests),
          String(traffic[.success]),
          String(traffic[.redirect]), String(traffic[.clientError]), String(traffic[.serverError]),
          String(traffic[.proxyError]), String(traffic.inFlight), ms(0.5), ms(0.99))
      }
      out += table.render() + "\n"
    }
    return out
  }

  /// A latency bucket bound for people: `<=1ms`, `<=250us`.
  static func formatMicros(_ micros: Int64) -> String {
    micros < 1000 ? "<=\(micros)us" : "<=\(micros / 1000)ms"
  }
}

/// `schedctl stop-set APP COLOR`: stop and remove one color's containers.
struct StopSetCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stop-set",
    abstract: "Stop and remove one color's containers and free their reservations.",
    usage: "schedctl stop-set <app> <color> [--force] [<global options>]",
    discussion: """
      The live set serves production and is refused: switch to the other set and retire the \
      old one instead. --force stops it anyway (the app then answers 503 until a set is \
      deployed); the event log records who did it.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  @Argument(help: "blue or green.")
  var color: Color

  @Flag(help: "Stop the set even if it is live.")
  var force = false

  func run() async throws {
    let client = try global.client()
    try await Exit.guarding { try await client.stopSet(app, color: color, force: force) }
    switch global.output {
    case .table: print("stopping \(app) \(color.rawValue): its containers are being removed")
    case .json: try printJSON(["app": app, "color": color.rawValue, "state": "stopping"])
    }
  }
}

extension Color: ExpressibleByArgument {}
