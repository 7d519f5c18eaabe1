import ArgumentParser
import Foundation
import Placement
import SchedModel

/// Slot decisions a second on a large cluster: `PlacementCluster` placing sets of identical
/// slots one after another (each plan committed), against the reference placer on the first
/// sets of the same sequence.
struct PlacementSpeed: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "placement",
    abstract: "Placement speed at scale: sets of identical slots on many nodes.")

  @Option(help: "Nodes, each 16 cores and 64 GiB with 1000 host ports.") var nodes = 10_000
  @Option(help: "Slots to place in all.") var slots = 100_000
  @Option(help: "Slots per set.") var setSize = 10
  @Option(help: "At most this many slots of a set on one node.") var maxPerNode = 2
  @Option(help: "Sets the reference placer also places, for the ratio.") var referenceSets = 100
  @Option(help: "Seed of the slot sizes.") var seed: UInt64 = 1
  @Flag(
    help:
      "Nodes of mixed sizes (4 to 64 cores, 8 to 256 GiB, memory as hosts report it, not round) instead of identical ones."
  )
  var mixed = false
  @Flag(
    help:
      "Slots with 3 times the web-app sizes' memory, about as much per core as the nodes have (4.4 GiB against 4): demand stays balanced, so rule aligned steers by shape on every set. (Web-app sizes hold 1 GiB a core or less: against nodes of 4 GiB a core that demand is lopsided, and aligned places as best fit.)"
  )
  var balanced = false

  /// Web-app sizes, 250m/256Mi up to 2000m/4Gi.
  static let sizes: [(cpu: Int64, memoryMiB: Int64)] = [
    (250, 256), (500, 512), (500, 1024), (1000, 1024), (1000, 2048), (2000, 2048), (2000, 4096),
  ]

  func run() throws {
    var random = SeededRandom(seed: seed)
    let ports = try PortRange(low: 20000, high: 20999)
    let width = String(nodes - 1).count
    let start = (0..<nodes).map { number in
      let digits = String(number)
      var capacity = Resources(cpuMillis: 16_000, memoryBytes: 64 << 30)
      if mixed {
        let cores = Int64([4, 8, 16, 32, 64].randomElement(using: &random)!)
        capacity = Resources(
          cpuMillis: cores * 1000,
          memoryBytes: cores * (Int64.random(in: 2...4, using: &random) << 30)
            - Int64.random(in: 0..<(400 << 20), using: &random))
      }
      return PlacementNode(
        id: NodeID("node-" + String(repeating: "0", count: width - digits.count) + digits),
        capacity: capacity, ports: ports)
    }
    let setCount = (slots + setSize - 1) / setSize
    let requests = (0..<setCount).map { _ in
      let size = Self.sizes.randomElement(using: &random)!
      let memoryMiB = balanced ? size.memoryMiB * 3 : size.memoryMiB
      return SetRequest(
        count: setSize, demand: Resources(cpuMillis: size.cpu, memoryBytes: memoryMiB << 20),
        maxPerNode: maxPerNode)
    }
    print(
      "placement speed: \(nodes) nodes \(mixed ? "of mixed sizes" : "of 16 cores / 64 GiB"), \(setCount) sets of \(setSize) identical slots (\(Self.sizes.count) web-app sizes\(balanced ? " with 3 times the memory" : ""), seed \(seed)), max \(maxPerNode) per node"
    )

    let clock = ContinuousClock()
    var plans: [PlacementResult] = []
    var bestFitTimes: [Double] = []
    for rule in [PlacementRule.aligned, .bestFit] {
      let built = clock.now
      var cluster = PlacementCluster(start)
      let buildTime = (clock.now - built).seconds
      var perSet: [Double] = []
      perSet.reserveCapacity(setCount)
      var placedSlots = 0
      var refused = 0
      let began = clock.now
      for request in requests {
        let setStart = clock.now
        let result = try cluster.place(request, rule: rule, explain: false)
        if case .placed(let planned) = result {
          cluster.commit(planned, demand: request.demand)
          placedSlots += planned.count
        } else {
          refused += 1
        }
        perSet.append((clock.now - setStart).seconds)
        if rule == .bestFit, plans.count < referenceSets { plans.append(result) }
      }
      let total = (clock.now - began).seconds
      let per = Percentiles(perSet)
      let inUse = cluster.nodes().filter { $0.allocated != .zero }.count
      print(
        String(
          format:
            "  PlacementCluster, rule %@: %d slots placed (%d sets refused) in %.3f s: %.0f slot decisions/s; per set p50 %.1f us, p99 %.1f us, max %.1f us; %d nodes in use; index built in %.1f ms",
          rule.rawValue, placedSlots, refused, total, Double(placedSlots) / total,
          per.at(0.5) * 1e6, per.at(0.99) * 1e6, per.sorted.last! * 1e6, inUse, buildTime * 1000))
      if rule == .bestFit { bestFitTimes = perSet }
    }
    let perSet = bestFitTimes

    // The reference on the first sets, its node list kept up to date (not rebuilt per set).
    guard referenceSets > 0 else { return }
    var working = start
    var positions: [NodeID: Int] = [:]
    for (position, node) in working.enumerated() { positions[node.id] = position }
    var referenceTimes: [Double] = []
    var same = true
    for (number, request) in requests.prefix(referenceSets).enumerated() {
      let setStart = clock.now
      let result = try ReferencePlacer.place(request, on: working)
      if case .placed(let planned) = result {
        for slot in planned {
          let position = positions[slot.node]!
          working[position].allocated = working[position].allocated + request.demand
          working[position].usedPorts.insert(slot.hostPort)
        }
      }
      referenceTimes.append((clock.now - setStart).seconds)
      if case .placed = result, result != plans[number] { same = false }
    }
    let fast = perSet.prefix(referenceTimes.count).reduce(0, +)
    let slow = referenceTimes.reduce(0, +)
    let reference = Percentiles(referenceTimes)
    print(
      String(
        format:
          "  reference on the first %d sets: %.0f slot decisions/s; per set p50 %.1f us, p99 %.1f us",
        referenceTimes.count, Double(referenceTimes.count * setSize) / slow,
        reference.at(0.5) * 1e6, reference.at(0.99) * 1e6))
    print(
      String(
        format:
          "  PlacementCluster, rule best-fit, on the same sets: %.0f slot decisions/s, %.0fx the reference; same plans: %@",
        Double(referenceTimes.count * setSize) / fast, slow / fast, same ? "yes" : "NO"))
    if !same { throw ExitCode.failure }
  }
}
