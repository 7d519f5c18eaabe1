import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient
import SchedModel

/// `schedctl rebalance`: the live sets repacked on fewer nodes, shown, and carried out.
struct RebalanceCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rebalance",
    abstract: "Pack the live sets onto fewer nodes: show the plan, or carry it out.",
    usage: """
      schedctl rebalance [--plan] [--output json] [<global options>]
      schedctl rebalance --apply [--ready-timeout <duration>] [<global options>]
      """,
    discussion: """
      Placement puts one set at a time where it fits best then; after deploys, retires and \
      nodes coming and going the sets sit on more nodes than they need. The scheduler packs \
      every live set again at once (each node filled with the fullest combination of the slots \
      left) and lists the sets whose nodes change and the nodes left empty.

      --apply carries the plan out through blue-green, one set at a time: the standby sets \
      (old colors kept for rollback) are retired first; then for each set a copy of it starts \
      on its planned nodes as the idle color, the routers switch to it once every slot is \
      healthy (no new verification: it is the deployment that serves now), and the old set is \
      drained and stopped. No request fails. A set whose planned nodes have no room while its \
      old copy runs is tried again after the others, then placed anywhere off the nodes being \
      emptied. The nodes it frees hold nothing afterwards: stop their agents and remove them \
      (schedctl node remove NODE), or keep them as room to grow.

      Exits 0 when the plan is shown or carried out (also when there is nothing to do), 1 when \
      a step fails (what was done so far stays done; run it again for a new plan).
      """)

  @OptionGroup var global: GlobalOptions

  @Flag(help: "Show the plan and change nothing (the default).")
  var plan = false

  @Flag(help: "Carry the plan out, one set at a time.")
  var apply = false

  @Option(help: "How long a moved set may take to become ready, e.g. 120s or 5m.")
  var readyTimeout = "120s"

  func validate() throws {
    if plan && apply { throw ValidationError("give --plan or --apply, not both") }
    _ = try timeout()
  }

  /// `--ready-timeout` as a duration above zero.
  func timeout() throws -> Duration {
    guard let duration = try? Parsing.duration(readyTimeout), duration > .zero else {
      throw ValidationError("--ready-timeout '\(readyTimeout)' is not a duration: use 90s or 5m")
    }
    return duration
  }

  func run() async throws {
    let client = try global.client()
    let plan = try await Exit.guarding { try await client.rebalancePlan() }
    if !apply {
      switch global.output {
      case .json: try printJSON(plan)
      case .table: print(Self.render(plan))
      }
      return
    }
    if let blocked = plan.blocked {
      throw Exit.failure("no rebalance plan: \(blocked)", code: Exit.failed)
    }
    print(Self.render(plan))
    guard !plan.moves.isEmpty else { return }
    let run = RebalanceApply(
      client: client, readyTimeout: try timeout()
    ) { print($0) }
    do { try await run.carryOut(plan) } catch let error as RebalanceApply.Failure {
      throw Exit.failure(error.message, code: Exit.failed)
    } catch {
      try await Exit.guarding { throw error }
    }
  }

  static func render(_ plan: RebalancePlan) -> String {
    if let blocked = plan.blocked { return "No plan: \(blocked)" }
    guard !plan.moves.isEmpty else {
      return
        "Nothing to do: the live sets use \(plan.nodesInUse) node(s), as few as the repack finds (lower bound \(plan.lowerBound))."
    }
    var lines = [
      "Nodes in use: \(plan.nodesInUse) -> \(plan.nodesAfter) (lower bound \(plan.lowerBound))",
      "Moves (\(plan.moves.count), one set at a time, blue-green):",
    ]
    for move in plan.moves {
      lines.append(
        "  \(move.app) (\(move.color.rawValue)): \(describe(move.from)) -> \(describe(move.to))")
    }
    if !plan.standby.isEmpty {
      lines.append("Standby sets retired first (rollback to them is no longer possible):")
      for set in plan.standby {
        lines.append("  \(set.app) (\(set.color.rawValue)) on \(describe(set.nodes))")
      }
    }
    lines.append(
      "Freed (empty afterwards, can be turned off): \(plan.freed.map(\.rawValue).joined(separator: ", "))"
    )
    return lines.joined(separator: "\n")
  }

  /// "n1 x2, n2": each node with how many slots.
  static func describe(_ nodes: [NodeID]) -> String {
    var counts: [NodeID: Int] = [:]
    for node in nodes { counts[node, default: 0] += 1 }
    return counts.sorted { $0.key < $1.key }.map {
      $0.value > 1 ? "\($0.key) x\($0.value)" : "\($0.key)"
    }
    .joined(separator: ", ")
  }
}

/// Carries a rebalance plan out through the API, one set at a time.
struct RebalanceApply: Sendable {
  struct Failure: Error { let message: String }

  let client: APIClient
  let readyTimeout: Duration
  let say: @Sendable (String) -> Void

  func carryOut(_ plan: RebalancePlan) async throws {
    for set in plan.standby {
      let retired = try await step("retire the standby set of \(set.app)") {
        try await client.retire(set.app, drainTimeoutMillis: nil)
      }
      say("retired \(set.app) (\(retired.color.rawValue)), the standby set")
    }
    var pending = plan.moves
    var refusals: [String: String] = [:]
    // As planned while any fits; then, for what is left, anywhere off the freed nodes.
    for pinned in [true, false] {
      var progress = true
      while progress, !pending.isEmpty {
        progress = false
        for move in pending {
          let nodes = pinned ? move.to : nil
          do {
            try await self.move(move, to: nodes, avoiding: plan.freed)
            pending.removeAll { $0.app == move.app }
            progress = true
          } catch let error as ClientError where error.code == .refused {
            refusals[move.app] = error.message
          }
        }
      }
    }
    guard pending.isEmpty else {
      let left = pending.map { "\($0.app): \(refusals[$0.app] ?? "refused")" }
      throw Failure(
        message:
          "\(pending.count) set(s) could not move while their old copies run: \(left.joined(separator: "; ")). Moved sets stay moved; add room or retire something, then run schedctl rebalance --apply again"
      )
    }
    let placement = try await step("read the placement") { try await client.placement() }
    let stillHeld = Set(placement.slots.map(\.node)).intersection(plan.freed)
    guard stillHeld.isEmpty else {
      throw Failure(
        message:
          "node(s) \(stillHeld.sorted().map(\.rawValue).joined(separator: ", ")) still hold slots (placed there since the plan was made); run schedctl rebalance --plan again"
      )
    }
    say(
      "done: nothing runs on \(plan.freed.map(\.rawValue).joined(separator: ", ")) now; to turn a node off, stop its agent and run schedctl node remove NODE"
    )
  }

  /// One set: its copy on `nodes` (or off `avoiding`), ready, switched to, the old one retired.
  private func move(_ move: RebalancePlan.Move, to nodes: [NodeID]?, avoiding: [NodeID])
    async throws
  {
    let placed = try await client.move(move.app, nodes: nodes, avoiding: avoiding)
    let deadline = ContinuousClock.now + readyTimeout
    while true {
      let status = try await step("read \(move.app)") { try await client.status(move.app) }
      let copy = status.sets.first { $0.color == placed.color }
      if copy?.state == .ready { break }
      guard ContinuousClock.now < deadline else {
        throw Failure(
          message:
            "the copy of \(move.app) (\(placed.color.rawValue)) was not ready within \(readyTimeout): \(copy?.slots.compactMap(\.message).joined(separator: "; ") ?? "no slots"); the old set still serves. Retire the copy with schedctl stop-set \(move.app) \(placed.color.rawValue)"
        )
      }
      try await Task.sleep(for: .milliseconds(250))
    }
    let switched: SwitchResponse
    do { switched = try await client.switchLive(move.app) } catch {
      throw Failure(
        message:
          "could not switch \(move.app) to its copy: \((error as? ClientError)?.message ?? "\(error)"). The copy (\(placed.color.rawValue)) is left running beside the live set: switch to it (schedctl switch \(move.app)) and retire the old one, or stop it (schedctl stop-set \(move.app) \(placed.color.rawValue))"
      )
    }
    let retired = try await step("retire the old set of \(move.app)") {
      try await client.retire(move.app, drainTimeoutMillis: nil)
    }
    let at = RebalanceCommand.describe(placed.placed.map(\.node))
    say(
      "moved \(move.app): \(RebalanceCommand.describe(move.from)) -> \(at)\(nodes == nil ? " (not as planned: its planned nodes had no room)" : "") [switched at epoch \(switched.epoch), old set drained in \(Int(retired.drainMillis)) ms]"
    )
  }

  /// Runs one API call; a failure other than a refusal ends the run with what was being done.
  private func step<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch {
      throw Failure(message: "could not \(what): \((error as? ClientError)?.message ?? "\(error)")")
    }
  }
}
