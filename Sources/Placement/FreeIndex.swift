import Foundation
import SchedModel

/// Ready nodes by what they have free, for best fit without a pass over every node.
///
/// Three levels. A *class* is every node with the same capacity and the same free CPU and
/// memory (they score the same for any slot), its nodes kept in id order. A *bucket* holds the
/// classes of one cell of a grid over the free fraction of CPU and of memory, among nodes of
/// about one size (capacities within 9% of each other per dimension: a *size group*). From a
/// bucket's cell, its size group and the slot's size follows an upper bound on the score of any
/// node in it, so a search opens buckets best bound first and stops when no unopened one can
/// beat what it holds. Nodes move between classes as slots come and go; nothing is rebuilt.
struct FreeIndex: Sendable {
  /// Cells per dimension of the grid.
  static let grid = 32

  struct ClassKey: Hashable, Sendable {
    var capacity: Resources
    var free: Resources
  }

  struct FreeClass: Sendable {
    var key: ClassKey
    /// The nodes' positions in the cluster, in node id order.
    var nodes: [(id: NodeID, position: Int)]
    var bucket: Int
    /// Where this class sits in its bucket's list.
    var slotInBucket: Int
  }

  struct Bucket: Sendable {
    var classes: [Int] = []
    /// Where this bucket sits in `occupied`, while it holds a class.
    var slotInOccupied = -1
    /// The smallest capacities of any class put here since the bucket was last empty (a bound
    /// that may be lower than today's smallest, which keeps it a bound).
    var smallestCPU = Int64.max
    var smallestMemory = Int64.max
    /// The largest, the same way.
    var largestCPU = Int64.min
    var largestMemory = Int64.min
  }

  /// A size group: capacities on a log scale, 8 steps to a doubling.
  struct SizeGroup: Hashable, Sendable {
    var cpu: Int
    var memory: Int

    init(_ capacity: Resources) {
      func step(_ value: Int64) -> Int { Int((log2(Double(max(1, value))) * 8).rounded(.down)) }
      cpu = step(capacity.cpuMillis)
      memory = step(capacity.memoryBytes)
    }
  }

  private(set) var classes = Recycled<FreeClass>()
  private var lookup: [ClassKey: Int] = [:]
  /// `grid * grid` buckets per size group, the group's first at `groups[group] * grid * grid`.
  private(set) var buckets: [Bucket] = []
  private var groups: [SizeGroup: Int] = [:]
  /// The buckets that hold a class.
  private(set) var occupied: [Int] = []

  /// The grid cell of a node with this capacity and free room, 0 to grid * grid - 1.
  static func cell(of key: ClassKey) -> Int {
    func step(_ free: Int64, _ capacity: Int64) -> Int {
      guard free > 0 else { return 0 }
      return min(grid - 1, Int(Double(free) / Double(capacity) * Double(grid)))
    }
    return step(key.free.cpuMillis, key.capacity.cpuMillis) * grid
      + step(key.free.memoryBytes, key.capacity.memoryBytes)
  }

  /// Files the node at `position` under `key`; returns its class.
  @discardableResult
  mutating func insert(_ id: NodeID, position: Int, key: ClassKey) -> Int {
    let index: Int
    if let found = lookup[key] {
      index = found
    } else {
      index = newClass(key)
    }
    classes[index].nodes.insert((id, position), at: place(of: id, inClass: index))
    return index
  }

  /// Takes the node at `position` out of class `index`.
  mutating func remove(_ id: NodeID, position: Int, fromClass index: Int) {
    let at = place(of: id, inClass: index)
    guard at < classes[index].nodes.count, classes[index].nodes[at].position == position else {
      return
    }
    classes[index].nodes.remove(at: at)
    if classes[index].nodes.isEmpty { dropClass(index) }
  }

  /// Where `id` is, or would go, in a class's nodes (kept in id order): a binary search that
  /// holds no copy of the list while the caller changes it.
  private func place(of id: NodeID, inClass index: Int) -> Int {
    var low = 0
    var high = classes[index].nodes.count
    while low < high {
      let middle = (low + high) / 2
      if classes[index].nodes[middle].id < id { low = middle + 1 } else { high = middle }
    }
    return low
  }

  private mutating func newClass(_ key: ClassKey) -> Int {
    let group = SizeGroup(key.capacity)
    let first: Int
    if let known = groups[group] {
      first = known * Self.grid * Self.grid
    } else {
      first = buckets.count
      groups[group] = groups.count
      buckets.append(contentsOf: repeatElement(Bucket(), count: Self.grid * Self.grid))
    }
    let bucket = first + Self.cell(of: key)
    let made = FreeClass(
      key: key, nodes: [], bucket: bucket, slotInBucket: buckets[bucket].classes.count)
    let index = classes.add(made)
    lookup[key] = index
    if buckets[bucket].classes.isEmpty {
      buckets[bucket].slotInOccupied = occupied.count
      occupied.append(bucket)
    }
    buckets[bucket].classes.append(index)
    buckets[bucket].smallestCPU = min(buckets[bucket].smallestCPU, key.capacity.cpuMillis)
    buckets[bucket].smallestMemory = min(buckets[bucket].smallestMemory, key.capacity.memoryBytes)
    buckets[bucket].largestCPU = max(buckets[bucket].largestCPU, key.capacity.cpuMillis)
    buckets[bucket].largestMemory = max(buckets[bucket].largestMemory, key.capacity.memoryBytes)
    return index
  }

  private mutating func dropClass(_ index: Int) {
    let gone = classes[index]
    lookup[gone.key] = nil
    var bucket = buckets[gone.bucket]
    let last = bucket.classes.removeLast()
    if last != index {
      bucket.classes[gone.slotInBucket] = last
      classes[last].slotInBucket = gone.slotInBucket
    }
    if bucket.classes.isEmpty {
      let moved = occupied.removeLast()
      if moved != gone.bucket {
        occupied[bucket.slotInOccupied] = moved
        buckets[moved].slotInOccupied = bucket.slotInOccupied
      }
      bucket = Bucket()
    }
    buckets[gone.bucket] = bucket
    classes[index].nodes = []
    classes.free(index)
  }
}

/// Bounds on BestFit-v3 scores from a grid cell, exact enough to order the search and never
/// above a real score.
enum ScoreBound {
  /// 10^(k/256) for k in 0...256.
  static let powers: [Double] = (0...256).map { Scoring.tenToThe(Double($0) / 256) }

  /// A value at most 10^x for x in [0, 1] (x below 0 counts as 0: no feasible node is there).
  static func tenToTheAtLeast(_ x: Double) -> Double {
    guard x > 0 else { return 1 }
    guard x < 1 else { return powers[255] }
    return powers[max(0, Int(x * 256) - 1)]
  }

  /// Whether a node of `bucket` could have room for `demand`: no node there has more free than
  /// the cell's high edge of the largest capacity filed there.
  static func mayFit(_ bucket: Int, of index: FreeIndex, demand: Resources) -> Bool {
    let cells = FreeIndex.grid
    let stored = index.buckets[bucket]
    let cell = bucket % (cells * cells)
    let highCPU = Double(cell / cells + 1) / Double(cells) + 1.0 / 512
    let highMemory = Double(cell % cells + 1) / Double(cells) + 1.0 / 512
    return Double(demand.cpuMillis) <= highCPU * Double(stored.largestCPU)
      && Double(demand.memoryBytes) <= highMemory * Double(stored.largestMemory)
  }

  /// The highest score any node of `bucket` could get for one more slot of `demand`.
  static func best(_ bucket: Int, of index: FreeIndex, demand: Resources) -> Double {
    let cells = FreeIndex.grid
    let stored = index.buckets[bucket]
    let cell = bucket % (cells * cells)
    let lowCPU = Double(cell / cells) / Double(cells)
    let lowMemory = Double(cell % cells) / Double(cells)
    // Free after the slot, as a fraction: at least the cell's low edge less the slot's share of
    // the smallest capacity filed here, less a margin for rounding.
    let cpu = lowCPU - Double(demand.cpuMillis) / Double(stored.smallestCPU) - 1.0 / 512
    let memory = lowMemory - Double(demand.memoryBytes) / Double(stored.smallestMemory) - 1.0 / 512
    return 20 - (tenToTheAtLeast(cpu) + tenToTheAtLeast(memory))
  }
}
