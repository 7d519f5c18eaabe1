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

  @Option(help: "Instances per class and scale.") var instances = 30
  @Option(
    name: .customLong("scale"),
    help:
      "Size of an instance: nodes cut (perfect fit), or about that many nodes' worth of sets; repeat for more."
  )
  var scales: [Int] = [30, 100, 300]
  @Option(help: "Seed of the first instance.") var seed: UInt64 = 1
  @Option(help: "Only this class.") var only: InstanceClass?

  func run() throws {
    print(
      "packing: \(instances) instances per class and scale, seeds \(seed)...\(seed + UInt64(instances) - 1); nodes of 16 cores / 64 GiB"
    )
    print("  ratio = nodes used / optimum (perfect fit) or / lower bound (others); mean [min, max]")
    for scale in scales { try run(scale: scale) }
  }

  func run(scale: Int) throws {
    print("  scale \(scale):")
    for kind in only.map({ [$0] }) ?? InstanceClass.allCases {
      var ratios: [String: [Double]] = [:]
      var seconds: [String: Double] = [:]
      for number in 0..<instances {
        var random = SeededRandom(seed: seed + UInt64(number))
        let (instance, optimum) = kind.generate(scale: scale, using: &random)
        let base = Double(optimum ?? instance.lowerBound)
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
        let mean = Self.mean(values)
        let name = algorithm.name.padding(toLength: 38, withPad: " ", startingAt: 0)
        let milliseconds = seconds[algorithm.name]! * 1000 / Double(values.count)
        print(
          "      " + name
            + String(
              format: "%.3fx [%.3f, %.3f]  %.1f ms each", mean, values.min()!, values.max()!,
              milliseconds))
      }
      let aligned = Self.mean(ratios[Self.algorithms[3].name]!)
      let bestFit = Self.mean(ratios[Self.algorithms[2].name]!)
      let verdict =
        aligned < bestFit - 1e-9
        ? "fewer nodes than" : aligned > bestFit + 1e-9 ? "MORE nodes than" : "as many nodes as"
      print(
        String(
          format: "      aligned uses %@ best fit (%.4fx against %.4fx)", verdict, aligned, bestFit)
      )
    }
  }

  static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

  static let algorithms:
    [(name: String, plan: @Sendable (PlacementInstance) throws -> InstancePlan)] = [
      ("first fit decreasing (offline)", { try OfflinePacking.firstFitDecreasing($0) }),
      ("repack (offline, rebalance --plan)", { try OfflinePacking.repack($0) }),
      ("best fit (BestFit-v3)", { try InstancePlanner.plan($0, rule: .bestFit) }),
      ("aligned (the scheduler's rule)", { try InstancePlanner.plan($0, rule: .aligned) }),
    ]
}
