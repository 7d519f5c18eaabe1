import ArgumentParser
import Placement

/// Seeded placement instances of the classes packing is measured on, all on nodes of 16 cores
/// and 64 GiB, sizes in steps of 250m and 256 MiB.
enum InstanceClass: String, CaseIterable, ExpressibleByArgument {
  /// Nodes cut into sets of identical slots that fill them exactly, the sets shuffled: the
  /// optimum is known (the number of nodes cut).
  case perfectFit = "perfect-fit"
  /// Sets of 1 to 10 slots of 250m to 2000m and 256 MiB to 4 GiB, uniformly.
  case uniform
  /// Half the sets CPU-heavy (1 to 4 cores, 256 MiB to 1 GiB), half memory-heavy (250m to
  /// 500m, 4 to 16 GiB), shuffled.
  case mixed = "cpu-memory-mixed"

  static let cpuStep: Int64 = 250
  static let memoryStep: Int64 = 256
  static let node = PlacementInstance.Size(cpuMillicores: 16_000, memoryMiB: 65_536)

  /// An instance of this class and its optimum when known.
  func generate(scale: Int, using random: inout SeededRandom) -> (
    instance: PlacementInstance, optimum: Int?
  ) {
    func slot(_ cpu: Int64, _ memory: Int64) -> PlacementInstance.Size {
      .init(cpuMillicores: cpu * Self.cpuStep, memoryMiB: memory * Self.memoryStep)
    }
    var sets: [[PlacementInstance.Size]] = []
    switch self {
    case .perfectFit:
      for _ in 0..<scale {
        sets += Self.perfectNode(using: &random).map {
          Array(repeating: slot($0.0, $0.1), count: $0.2)
        }
      }
      sets.shuffle(using: &random)
      return (PlacementInstance(node: Self.node, nodes: scale * 2, sets: sets), scale)
    case .uniform:
      for _ in 0..<(scale * 3) {
        let size = slot(
          Int64.random(in: 1...8, using: &random), Int64.random(in: 1...16, using: &random))
        sets.append(Array(repeating: size, count: Int.random(in: 1...10, using: &random)))
      }
    case .mixed:
      for index in 0..<(scale * 2) {
        let size =
          index % 2 == 0
          ? slot(Int64.random(in: 4...16, using: &random), Int64.random(in: 1...4, using: &random))
          : slot(Int64.random(in: 1...2, using: &random), Int64.random(in: 16...64, using: &random))
        sets.append(Array(repeating: size, count: Int.random(in: 1...10, using: &random)))
      }
      sets.shuffle(using: &random)
    }
    let instance = PlacementInstance(node: Self.node, nodes: scale * 4, sets: sets)
    return (instance, nil)
  }

  /// One node cut into sets of identical web-app slots (at most 2000m and 4 GiB, 1 to 10 to a
  /// set) that fill it exactly: each set's size in steps, and how many.
  static func perfectNode(using random: inout SeededRandom) -> [(Int64, Int64, Int)] {
    while true {
      let parts = Int.random(in: 3...8, using: &random)
      let cpu = cut(64, into: parts, using: &random)
      let memory = cut(256, into: parts, using: &random).shuffled(using: &random)
      var sets: [(Int64, Int64, Int)] = []
      for (c, m) in zip(cpu, memory) {
        let counts = (1...10).filter {
          c % Int64($0) == 0 && m % Int64($0) == 0 && c / Int64($0) <= 8 && m / Int64($0) <= 16
        }
        guard let n = counts.randomElement(using: &random) else { break }
        sets.append((c / Int64(n), m / Int64(n), n))
      }
      if sets.count == parts { return sets }
    }
  }

  /// `total` cut into `parts` positive integers at random points. (A small array, not a set:
  /// perfect-fit nodes are drawn again until every part divides well, so this runs often; the
  /// numbers drawn and the cut are the same.)
  static func cut(_ total: Int64, into parts: Int, using random: inout SeededRandom) -> [Int64] {
    var points: [Int64] = [0]
    points.reserveCapacity(parts + 1)
    while points.count < parts {
      let point = Int64.random(in: 1..<total, using: &random)
      if !points.contains(point) { points.append(point) }
    }
    points.sort()
    points.append(total)
    return (1...parts).map { points[$0] - points[$0 - 1] }
  }
}
