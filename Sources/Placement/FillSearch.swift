/// The fullest fill of one node from a bounded stock of items, over a grid of CPU and memory
/// units: every (cpu, memory) total some subset of the items reaches is found at once (a
/// bounded knapsack over both dimensions, each row of the grid a bit set shifted into the rows
/// above it), and the fullest reachable total is taken apart into the items that make it.
///
/// A node of 64 x 256 units (16 cores in 250m, 64 GiB in 256 MiB) is 16,705 states; an item
/// costs one shift per row. Items of a kind are offered in powers of two (1, 2, 4, ..., rest),
/// so `n` of a kind cost about log2(n) items.
struct FillSearch {
  /// Units of CPU and memory.
  struct Units: Hashable, Sendable {
    var cpu: Int
    var memory: Int
  }

  /// How many of one kind of item may go in, and the size of one.
  struct Stock {
    var kind: Int
    var size: Units
    var count: Int
  }

  let capacity: Units
  /// 64-bit words per row (memory units 0...capacity.memory).
  private let words: Int
  private var reached: [UInt64]
  /// For each reached state, the offered item that reached it first.
  private var parent: [Int32]

  init(capacity: Units) {
    self.capacity = capacity
    words = (capacity.memory + 1 + 63) / 64
    reached = Array(repeating: 0, count: (capacity.cpu + 1) * words)
    parent = Array(repeating: -1, count: (capacity.cpu + 1) * (capacity.memory + 1))
  }

  /// How many of each kind make the fullest fill, the fullest by `value` (larger is better)
  /// of every total the stock reaches. Larger items are offered first, so of the ways to reach
  /// a total the one with the larger items is kept (the small ones are the easier to place
  /// later).
  mutating func fullest(_ stock: [Stock], value: (Units) -> Double) -> [Int: Int] {
    var offered: [(kind: Int, size: Units, count: Int)] = []
    for item in stock where item.count > 0 {
      var left = min(
        item.count, capacity.cpu / max(item.size.cpu, 1),
        capacity.memory / max(item.size.memory, 1))
      var chunk = 1
      while left > 0 {
        let take = min(chunk, left)
        offered.append(
          (item.kind, Units(cpu: item.size.cpu * take, memory: item.size.memory * take), take))
        left -= take
        chunk *= 2
      }
    }
    offered.sort {
      let a =
        Double($0.size.cpu) / Double(capacity.cpu)
        + Double($0.size.memory) / Double(capacity.memory)
      let b =
        Double($1.size.cpu) / Double(capacity.cpu)
        + Double($1.size.memory) / Double(capacity.memory)
      return a > b
    }
    for index in reached.indices { reached[index] = 0 }
    reached[0] = 1
    for (number, item) in offered.enumerated() {
      add(item.size, as: Int32(number))
    }
    var best = Units(cpu: 0, memory: 0)
    var bestValue = -Double.infinity
    for cpu in 0...capacity.cpu {
      for word in 0..<words {
        var bits = reached[cpu * words + word]
        while bits != 0 {
          let memory = word * 64 + bits.trailingZeroBitCount
          bits &= bits - 1
          let state = Units(cpu: cpu, memory: memory)
          let score = value(state)
          if score > bestValue {
            bestValue = score
            best = state
          }
        }
      }
    }
    var chosen: [Int: Int] = [:]
    var state = best
    while state.cpu != 0 || state.memory != 0 {
      let item = offered[Int(parent[state.cpu * (capacity.memory + 1) + state.memory])]
      chosen[item.kind, default: 0] += item.count
      state.cpu -= item.size.cpu
      state.memory -= item.size.memory
    }
    return chosen
  }

  /// Every total reached so far, plus `size`, is reached too (each offered item once: rows are
  /// updated from the top, so a row is read before this item changed it).
  private mutating func add(_ size: Units, as item: Int32) {
    guard size.cpu <= capacity.cpu, size.memory <= capacity.memory else { return }
    let wordShift = size.memory / 64
    let bitShift = size.memory % 64
    let rowLength = capacity.memory + 1
    let lastBits = (capacity.memory + 1) % 64
    let lastMask: UInt64 = lastBits == 0 ? ~0 : (1 << UInt64(lastBits)) - 1
    for cpu in stride(from: capacity.cpu, through: size.cpu, by: -1) {
      let target = cpu * words
      let source = (cpu - size.cpu) * words
      for word in stride(from: words - 1, through: wordShift, by: -1) {
        var shifted = reached[source + word - wordShift] << UInt64(bitShift)
        if bitShift > 0, word - wordShift - 1 >= 0 {
          shifted |= reached[source + word - wordShift - 1] >> UInt64(64 - bitShift)
        }
        if word == words - 1 { shifted &= lastMask }
        var fresh = shifted & ~reached[target + word]
        guard fresh != 0 else { continue }
        reached[target + word] |= fresh
        while fresh != 0 {
          let memory = word * 64 + fresh.trailingZeroBitCount
          fresh &= fresh - 1
          parent[cpu * rowLength + memory] = item
        }
      }
    }
  }
}
