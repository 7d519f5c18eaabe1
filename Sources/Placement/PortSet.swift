import SchedModel

/// The host ports of one node's range that slots hold, as bits: the lowest free ports are found
/// a word (64 ports) at a time from the first word with a free port, not by a set lookup per
/// port. Words are kept only up to the highest port held; the rest of the range is free.
struct PortSet: Hashable, Sendable {
  let range: PortRange
  /// Bit `i` of word `w` is port `range.low + 64 * w + i`.
  private var words: [UInt64] = []
  /// How many ports of the range are held.
  private(set) var used = 0
  /// Every word before this one is full.
  private var firstOpenWord = 0

  init(range: PortRange, used ports: some Sequence<Int> = []) {
    self.range = range
    for port in ports { insert(port) }
  }

  var freeCount: Int { range.count - used }

  func contains(_ port: Int) -> Bool {
    guard range.contains(port) else { return false }
    let (word, bit) = Self.place(port - range.low)
    return word < words.count && words[word] & (1 << bit) != 0
  }

  /// Holds `port`; a port outside the range, or already held, changes nothing.
  mutating func insert(_ port: Int) {
    guard range.contains(port) else { return }
    let (word, bit) = Self.place(port - range.low)
    if word >= words.count {
      words.append(contentsOf: repeatElement(0, count: word - words.count + 1))
    }
    guard words[word] & (1 << bit) == 0 else { return }
    words[word] |= 1 << bit
    used += 1
    while firstOpenWord < words.count, words[firstOpenWord] == .max { firstOpenWord += 1 }
  }

  /// Lets `port` go; one not held changes nothing.
  mutating func remove(_ port: Int) {
    guard contains(port) else { return }
    let (word, bit) = Self.place(port - range.low)
    words[word] &= ~(1 << bit)
    used -= 1
    firstOpenWord = min(firstOpenWord, word)
  }

  /// The held ports, lowest first.
  var held: [Int] {
    var out: [Int] = []
    out.reserveCapacity(used)
    for (word, bits) in words.enumerated() {
      var rest = bits
      while rest != 0 {
        out.append(range.low + word * 64 + rest.trailingZeroBitCount)
        rest &= rest - 1
      }
    }
    return out
  }

  /// The `count` lowest free ports, lowest first (fewer when the range runs out).
  func lowestFree(_ count: Int) -> [Int] {
    var out: [Int] = []
    out.reserveCapacity(count)
    var word = firstOpenWord
    while out.count < count {
      let base = range.low + word * 64
      guard base <= range.high else { break }
      var open = word < words.count ? ~words[word] : .max
      while open != 0, out.count < count {
        let port = base + open.trailingZeroBitCount
        guard port <= range.high else { return out }
        out.append(port)
        open &= open - 1
      }
      word += 1
    }
    return out
  }

  private static func place(_ offset: Int) -> (word: Int, bit: UInt64) {
    (offset >> 6, UInt64(offset & 63))
  }
}
