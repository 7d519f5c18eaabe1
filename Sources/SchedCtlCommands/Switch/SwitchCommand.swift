import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient
import SchedModel

/// `schedctl switch APP`: make the candidate set live on every router.
struct SwitchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "switch",
    abstract: "Make the app's candidate set live on every router, with no failed request.",
    usage: "schedctl switch <app> [--force] [<global options>]",
    discussion: """
      Refused unless every slot of the candidate set is healthy and the image digest it runs \
      passed `schedctl verify` for this deployment; --force switches without a pass and writes \
      who did it to the event log. Two phases: every connected \
      router loads the new table and opens connections to the new set, then the scheduler \
      commits it everywhere. A router that does not answer in time (schedd --switch-timeout) \
      aborts the switch and the live set stays live on all routers. Requests in flight on the \
      old set finish there; the old set stays warm for `schedctl rollback`. \
      Exits 0 when switched, 1 when refused or aborted (the reason is printed).
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  @Flag(help: "Switch even though the candidate has no passing verification (logged).")
  var force = false

  func run() async throws {
    let client = try global.client()
    let result = try await SwitchOutput.run(app, verb: "switch", client: client) {
      try await client.switchLive(app, force: force)
    }
    try SwitchOutput.print(result, verb: "switched", global: global)
  }
}

/// `schedctl rollback APP`: make the previous set live again.
struct RollbackCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rollback",
    abstract: "Make the previous set live again on every router; no container is started.",
    usage: "schedctl rollback <app> [<global options>]",
    discussion: """
      The set that was live before the last switch is still running (until it is retired), so \
      a rollback is the same two-phase table change as a switch, in well under a second.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  func run() async throws {
    let client = try global.client()
    let result = try await SwitchOutput.run(app, verb: "rollback", client: client) {
      try await client.rollback(app)
    }
    try SwitchOutput.print(result, verb: "rolled back", global: global)
  }
}

enum SwitchOutput {
  /// Sends a switch or rollback. When the scheduler goes away before answering (it was sent
  /// and may have been carried out), the app's live color is read again for up to 30 s and
  /// compared with the one before, so the operator learns what happened.
  static func run(
    _ app: String, verb: String, client: APIClient,
    _ send: () async throws -> SwitchResponse
  ) async throws -> SwitchResponse {
    let before = try await Exit.guarding { try await client.status(app) }.app.live
    do {
      return try await send()
    } catch let error as ClientError where error.code == .interrupted {
      FileHandle.standardError.write(
        Data("warning: \(error.message); finding out what happened\n".utf8))
      let after = try? await Patient.read(until: .now + .seconds(30)) {
        try await client.status(app)
      }
      let (message, code) = afterLostAnswer(
        app: app, verb: verb, before: before, after: after?.app, error: error.message)
      FileHandle.standardError.write(Data((message + "\n").utf8))
      throw ExitCode(code)
    } catch {
      return try await Exit.guarding { throw error }
    }
  }

  /// What a switch or rollback whose answer was lost did, from the app as read afterwards
  /// (nil: the scheduler is still away).
  static func afterLostAnswer(
    app: String, verb: String, before: Color?, after: AppRecord?, error: String
  ) -> (message: String, exit: Int32) {
    guard let after else {
      return (
        "error: the \(verb) of \(app) was sent, but the scheduler did not answer and is still unreachable: its outcome is unknown. Check with: schedctl status \(app)",
        Exit.unavailable
      )
    }
    let live = after.live?.rawValue ?? "none"
    if after.live != before {
      return (
        "the scheduler went away before answering, but the \(verb) took effect: \(app) is live on \(live) (it was \(before?.rawValue ?? "none"))",
        0
      )
    }
    return (
      "error: the \(verb) did not take effect: \(app) is still live on \(live). Run schedctl \(verb) \(app) again",
      Exit.failed
    )
  }

  static func print(_ result: SwitchResponse, verb: String, global: GlobalOptions) throws {
    switch global.output {
    case .json: try printJSON(result)
    case .table:
      Swift.print(
        "\(verb) \(result.app): \(result.from?.rawValue ?? "none") -> \(result.to.rawValue) (deployment \(result.deployment)) at epoch \(result.epoch) on \(result.routers.count) router(s) [prepare \(format(result.prepareMillis)) ms, commit \(format(result.commitMillis)) ms]"
      )
      if !result.lagging.isEmpty {
        Swift.print(
          "warning: router(s) \(result.lagging.joined(separator: ", ")) did not confirm the commit in time; they were sent the table again"
        )
      }
    }
  }

  static func format(_ millis: Double) -> String { String(format: "%.1f", millis) }
}

/// `schedctl retire APP`: drain and stop the set that is not live.
struct RetireCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "retire",
    abstract: "Drain the old set (the one not live) and stop its containers.",
    usage: "schedctl retire <app> [--drain-timeout <duration>] [<global options>]",
    discussion: """
      The old set leaves every router's table, the routers wait for its requests in flight (up \
      to --drain-timeout, default the app's drain_timeout), then its containers stop. After \
      this, rollback is no longer possible.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  @Option(help: "Longest wait for requests in flight, e.g. 30s (default: the app's).")
  var drainTimeout: String?

  func run() async throws {
    var millis: Int64? = nil
    if let drainTimeout {
      do { millis = try Parsing.duration(drainTimeout).milliseconds } catch {
        throw ValidationError(error.message)
      }
    }
    // The scheduler answers after the drain: wait for the longest drain there can be.
    let client = try global.client(timeout: .milliseconds(millis ?? 3_600_000) + .seconds(30))
    let result = try await Exit.guarding {
      try await client.retire(app, drainTimeoutMillis: millis)
    }
    switch global.output {
    case .json: try printJSON(result)
    case .table:
      let left = result.inFlightLeft.filter { $0.value != 0 }
      print(
        "retired \(result.app) \(result.color.rawValue) (deployment \(result.deployment)): "
          + (left.isEmpty
            ? "drained in \(SwitchOutput.format(result.drainMillis)) ms"
            : "drain timeout passed with requests in flight on \(left.keys.sorted().joined(separator: ", "))")
          + "; its containers are being removed")
    }
  }
}

/// `schedctl routers`: every router and the epoch it serves.
struct RoutersCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "routers", abstract: "List routers and whether they serve the current table.",
    usage: "schedctl routers [<global options>]",
    discussion: """
      EPOCH is the route table a router serves, as it last acknowledged it (a switch's \
      commit, a table installed) or reported it (once a heartbeat); "-" until a router that \
      just connected has said.

      IN SYNC: it serves the scheduler's table (the "table epoch" line). A router out of sync \
      gets the table again with every change; a disconnected one serves the table it kept \
      (from its --state-file after a restart).
      """)

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let result = try await Exit.guarding { try await client.routers() }
    switch global.output {
    case .json: try printJSON(result)
    case .table:
      print("table epoch \(result.epoch)")
      var table = Table("ROUTER", "STATE", "PEER", "EPOCH", "IN SYNC", "LAST REPORT")
      for router in result.routers {
        table.add(
          router.name, router.connected ? "connected" : "disconnected", router.peer ?? "-",
          router.epoch > 0 ? String(router.epoch) : "-", router.inSync ? "yes" : "no",
          router.reportAgeMillis.map { "\($0) ms ago" } ?? "-")
      }
      print(result.routers.isEmpty ? "No router has connected." : table.render())
    }
  }
}
