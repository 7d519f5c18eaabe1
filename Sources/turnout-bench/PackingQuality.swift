import ArgumentParser
import Foundation
import Placement

/// Nodes used by online placement on seeded instances of each class, against first fit
/// decreasing (offline, slots largest first by the sum of their shares; by the larger share or
/// the product it did worse on these classes) and best fit as the scheduler placed before
/// (BestFit-v3), in one run.
struct PackingQuality: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "packing",
    abstract:
      "Packing quality per instance class: nodes used against the optimum or the lower bound.")

  @Option(
    help:
      "Instances per class and scale (default: 15000 / scale, at least 30: 500 at 30 nodes, where one node is 3% of the ratio)."
  )
  var instances: Int?
  @Option(
    name: .customLong("scale"),
    help:
      "Size of an instance: nodes cut (perfect fit), or about that many nodes' worth of sets; repeat for more."
  )
  var scales: [Int] = [30, 100, 300]
  @Option(help: "Seed of the first instance.") var seed: UInt64 = 1
  @Option(help: "Only this class.") var only: InstanceClass?
  @Option(
    help: ArgumentHelp(
      "Also write each instance to this folder as CLASS-SCALE-SEED.json, in the format of schedctl plan --input.",
      valueName: "folder"))
  var writeInstances: String?

  func run() throws {
    print("packing: nodes of 16 cores / 64 GiB")
    print(
      "  ratio = nodes used / optimum (perfect fit) or / lower bound (others): mean ± standard error [min, max]"
    )
    for scale in scales { try run(scale: scale) }
  }

  func run(scale: Int) throws {
    let instances = self.instances ?? max(30, 15_000 / scale)
    print(
      "  scale \(scale): \(instances) instances per class, seeds \(seed)...\(seed + UInt64(instances) - 1)"
    )
    for kind in only.map({ [$0] }) ?? InstanceClass.allCases {
      var ratios: [String: [Double]] = [:]
      var seconds: [String: Double] = [:]
      for number in 0..<instances {
        var random = SeededRandom(seed: seed + UInt64(number))
        let (instance, optimum) = kind.generate(scale: scale, using: &random)
        let base = Double(optimum ?? instance.lowerBound)
        if let folder = writeInstances {
          try write(
            instance, to: folder, name: "\(kind.rawValue)-\(scale)-\(seed + UInt64(number))")
        }
        for algorithm in Self.algorithms {
          let name = algorithm.name
          let started = ContinuousClock.now
          let plan = try algorithm.plan(instance)
          seconds[name, default: 0] += (ContinuousClock.now - started).seconds
          if let problem = instance.problem(with: plan) {
            throw ValidationError(
              "\(name) made a wrong plan on \(kind.rawValue) seed \(seed + UInt64(number)): \(problem)"
            )
          }
          guard plan.unplacedSets.isEmpty else {
            throw ValidationError(
              "\(name) left sets unplaced on \(kind.rawValue) seed \(seed + UInt64(number))")
          }
          ratios[name, default: []].append(Double(plan.nodesUsed) / base)
        }
      }
      let against = kind == .perfectFit ? "optimum" : "lower bound"
      print("    \(kind.rawValue) (against the \(against)):")
      for algorithm in Self.algorithms {
        let values = ratios[algorithm.name]!
        let name = algorithm.name.padding(toLength: 38, withPad: " ", startingAt: 0)
        let milliseconds = seconds[algorithm.name]! * 1000 / Double(values.count)
        print(
          "      " + name
            + String(
              format: "%.4fx ± %.4f [%.3f, %.3f]  %.1f ms each", Self.mean(values),
              Self.standardError(values), values.min()!, values.max()!, milliseconds))
      }
      let aligned = ratios[Self.algorithms[3].name]!
      let bestFit = ratios[Self.algorithms[2].name]!
      let verdict =
        Self.mean(aligned) < Self.mean(bestFit) - 1e-9
        ? "fewer nodes than"
        : Self.mean(aligned) > Self.mean(bestFit) + 1e-9 ? "MORE nodes than" : "as many nodes as"
      let fewer = zip(aligned, bestFit).filter { $0 < $1 - 1e-9 }.count
      let more = zip(aligned, bestFit).filter { $0 > $1 + 1e-9 }.count
      print(
        String(
          format:
            "      aligned uses %@ best fit (%.4fx against %.4fx): fewer nodes on %d instances, more on %d",
          verdict, Self.mean(aligned), Self.mean(bestFit), fewer, more))
    }
  }

  func write(_ instance: PlacementInstance, to folder: String, name: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let url = URL(fileURLWithPath: folder, isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    try encoder.encode(instance).write(to: url.appendingPathComponent(name + ".json"))
  }

  static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

  /// The standard error of the mean: how far the mean of another draw of as many instances
  /// would typically land.
  static func standardError(_ values: [Double]) -> Double {
    guard values.count > 1 else { return 0 }
    let mean = mean(values)
    let variance =
      values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    return (variance / Double(values.count)).squareRoot()
  }

  static let algorithms:
    [(name: String, plan: @Sendable (PlacementInstance) throws -> InstancePlan)] = [
      ("first fit decreasing (offline)", { try OfflinePacking.firstFitDecreasing($0) }),
      ("repack (offline, rebalance --plan)", { try OfflinePacking.repack($0) }),
      ("best fit (BestFit-v3)", { try InstancePlanner.plan($0, rule: .bestFit) }),
      ("aligned (the scheduler's rule)", { try InstancePlanner.plan($0, rule: .aligned) }),
    ]
}
