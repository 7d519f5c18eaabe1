import ArgumentParser
import Foundation
import Placement

/// `schedctl plan --input FILE`: an instance file placed offline, no scheduler asked.
enum OfflinePlan {
  /// How the file's sets are placed: one after another by an online rule, or all at once.
  enum Rule: String, CaseIterable {
    case aligned
    case bestFit = "best-fit"
    case repack
  }

  static func run(_ path: String, rule: Rule, output: OutputFormat) throws {
    let instance = try read(path)
    let plan: InstancePlan
    do {
      plan =
        switch rule {
        case .aligned: try InstancePlanner.plan(instance, rule: .aligned)
        case .bestFit: try InstancePlanner.plan(instance, rule: .bestFit)
        case .repack: try OfflinePacking.repack(instance)
        }
    } catch {
      throw Exit.failure("\(path): \(error.message)", code: Exit.dataError)
    }
    switch output {
    case .json: try printJSON(plan)
    case .table: print(render(plan, instance: instance))
    }
    if !plan.unplacedSets.isEmpty { throw ExitCode(Exit.doesNotFit) }
  }

  static func read(_ path: String) throws -> PlacementInstance {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw Exit.failure(
        "cannot read \(path): \(error.localizedDescription)", code: Exit.dataError)
    }
    do { return try JSONDecoder().decode(PlacementInstance.self, from: data) } catch {
      throw Exit.failure(
        "\(path) is not a placement instance (\(describe(error))); see schedctl plan --help for the format",
        code: Exit.dataError)
    }
  }

  static func render(_ plan: InstancePlan, instance: PlacementInstance) -> String {
    let unplaced = plan.unplacedSets
    // Against the bound of the whole instance only when all of it was placed.
    let ratio =
      unplaced.isEmpty && plan.lowerBound > 0
      ? ", \(String(format: "%.3f", Double(plan.nodesUsed) / Double(plan.lowerBound)))x" : ""
    var out = """
      Nodes used: \(plan.nodesUsed) of \(instance.nodes) (lower bound \(plan.lowerBound)\(ratio))
      Slots placed: \(plan.slotsPlaced) in \(plan.sets.count - plan.unplacedSets.count) of \
      \(plan.sets.count) sets
      """
    if !unplaced.isEmpty {
      let shown = unplaced.prefix(20).map(String.init).joined(separator: ", ")
      out += "\nDid not fit: sets \(shown)\(unplaced.count > 20 ? ", ..." : "") (\(unplaced.count))"
    }
    return out
  }

  /// A decoding error in words: which field, what was wrong.
  static func describe(_ error: any Error) -> String {
    func path(_ keys: [any CodingKey]) -> String {
      keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        .trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
    switch error {
    case DecodingError.keyNotFound(let key, let context):
      return "missing \(path(context.codingPath + [key]))"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
      return "\(path(context.codingPath)): \(context.debugDescription)"
    case DecodingError.dataCorrupted(let context):
      return context.codingPath.isEmpty
        ? "not JSON" : "\(path(context.codingPath)): \(context.debugDescription)"
    default:
      return "\(error)"
    }
  }
}
