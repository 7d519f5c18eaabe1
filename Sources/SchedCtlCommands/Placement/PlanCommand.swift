import ArgumentParser
import Foundation
import OperatorAPI
import Placement
import SchedModel

/// `schedctl plan`: where a set would go on the live cluster, or why it would not fit; or, with
/// `--input`, the placement of a whole instance file, offline.
struct PlanCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "plan",
    abstract:
      "Show where a set of slots would be placed now, or why it would not fit. Changes nothing.",
    usage: """
      schedctl plan --slots <n> --cpu <cpu> --memory <memory>
        [--label <k=v> ...] [--max-per-node <n>] [<global options>]
      schedctl plan --input <file> [--rule aligned|best-fit|repack] [-o json]
      """,
    discussion: """
      Example: schedctl plan --slots 4 --cpu 250m --memory 128Mi
      Exits 0 when the set fits and 2 when it does not.

      With --input, no scheduler is asked: the file is a placement instance and the sets in it \
      are placed in order on empty identical nodes, the way the scheduler places them, so \
      Turnout can be compared with other algorithms. The file:
        {"node": {"cpu_millicores": 16000, "memory_mib": 65536}, "nodes": 100,
         "sets": [[{"cpu_millicores": 500, "memory_mib": 512}, ...], ...]}
      each inner list one set of identical slots, all or nothing; --rule best-fit places them \
      by best fit (BestFit-v3) instead of the scheduler's aligned rule, and --rule repack \
      places all of them at once, the way schedctl rebalance --plan does (nodes filled one \
      after another with the fullest combination of the slots left; every set or none). The answer gives each set's \
      nodes (0 to nodes-1, null for a set that fits nowhere), the nodes used and the lower \
      bound max(ceil(sum cpu / node cpu), ceil(sum memory / node memory)). Exits 2 when a set \
      does not fit, 65 when the file is not a valid instance.
      """)

  @OptionGroup var global: GlobalOptions

  @Option(help: "Number of slots in the set.")
  var slots: Int?

  @Option(help: "CPU per slot: millicores like 250m, or cores like 0.5.")
  var cpu: String?

  @Option(help: "Memory per slot: 128Mi, 1Gi, 512M, or bytes.")
  var memory: String?

  @Option(help: "A placement instance (JSON) to place offline, instead of a set on the cluster.")
  var input: String?

  @Option(
    help: ArgumentHelp(
      "With --input: aligned (the scheduler's, set after set), best-fit, or repack (all sets at once).",
      valueName: "rule"))
  var rule: String?

  @Option(name: .customLong("label"), help: "Required node label key=value; repeat for more.")
  var labels: [String] = []

  @Option(help: "At most this many slots of the set on one node.")
  var maxPerNode: Int?

  func validate() throws {
    if let rule, OfflinePlan.Rule(rawValue: rule) == nil {
      throw ValidationError(
        "--rule '\(rule)' is not a rule: use \(OfflinePlan.Rule.allCases.map(\.rawValue).joined(separator: ", "))"
      )
    }
    if input == nil, rule != nil {
      throw ValidationError("--rule goes with --input: the scheduler places by its own rule")
    }
    if input != nil {
      guard slots == nil, cpu == nil, memory == nil, labels.isEmpty, maxPerNode == nil else {
        throw ValidationError(
          "--input places a whole instance file: leave out --slots, --cpu, --memory, --label and --max-per-node"
        )
      }
      return
    }
    guard let slots, cpu != nil, memory != nil else {
      throw ValidationError(
        "give the set to plan (--slots, --cpu and --memory), or an instance file with --input")
    }
    guard slots > 0 else { throw ValidationError("--slots must be at least 1") }
    if let maxPerNode, maxPerNode < 1 { throw ValidationError("--max-per-node must be at least 1") }
    _ = try request()
  }

  func request() throws -> PlanRequest {
    guard let slots, let cpu, let memory else {
      throw ValidationError("--slots, --cpu and --memory are needed together")
    }
    do {
      var required: [String: String] = [:]
      for label in labels { required.merge(try LabelParser.parse(label)) { $1 } }
      return PlanRequest(
        slots: slots, cpuMillis: try Quantity.parseCPU(cpu),
        memoryBytes: try Quantity.parseMemory(memory), labels: required.isEmpty ? nil : required,
        maxPerNode: maxPerNode)
    } catch {
      throw ValidationError(error.message)
    }
  }

  func run() async throws {
    if let input {
      try OfflinePlan.run(
        input, rule: rule.flatMap(OfflinePlan.Rule.init(rawValue:)) ?? .aligned,
        output: global.output)
      return
    }
    let client = try global.client()
    let request = try request()
    let plan = try await Exit.guarding { try await client.plan(request) }
    switch global.output {
    case .json:
      try printJSON(plan)
    case .table:
      print(Self.render(plan, request: request))
    }
    if !plan.fits { throw ExitCode(Exit.doesNotFit) }
  }

  static func render(_ plan: PlanResponse, request: PlanRequest) -> String {
    let shape =
      "\(request.slots) x (\(Quantity.formatCPU(request.cpuMillis)) CPU, \(Quantity.formatMemory(request.memoryBytes)))"
    if plan.fits {
      var table = Table("SLOT", "NODE", "HOST PORT")
      for slot in plan.placed {
        table.add(String(slot.index), slot.node.rawValue, String(slot.hostPort))
      }
      return "Fits: \(shape)\n" + table.render()
    }
    var table = Table("SLOT", "WHY NOT")
    for slot in plan.unplaced { table.add(String(slot.index), slot.reason) }
    return "Does not fit: \(shape). Nothing would be placed.\n" + table.render()
  }
}
