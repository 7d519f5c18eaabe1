/// A build's output as the scheduler keeps it: in memory, in order, numbered from 0. A very
/// long log keeps its first and last lines and counts what it dropped between them.
struct BuildLogBuffer {
  static let headLines = 2_000
  static let tailLines = 18_000

  private var head: [String] = []
  private var tail: [String] = []
  private(set) var dropped = 0
  /// Lines received so far (dropped ones included): the next line's number.
  private(set) var count = 0

  /// Adds lines `from` on; lines already held (a repeated message) are skipped.
  mutating func append(from: Int, _ lines: [String]) {
    guard from + lines.count > count, from <= count else { return }
    for line in lines.dropFirst(count - from) {
      count += 1
      if head.count < Self.headLines {
        head.append(line)
        continue
      }
      tail.append(line)
      if tail.count > Self.tailLines {
        tail.removeFirst(tail.count - Self.tailLines)
        dropped += 1
      }
    }
  }

  /// Lines numbered `from` on that are still held, and the number after the last.
  func lines(from: Int) -> [String] {
    let from = max(0, from)
    var out: [String] = []
    if from < head.count { out += head[from...] }
    let tailStart = head.count + dropped
    let start = max(from, tailStart) - tailStart
    if start < tail.count { out += tail[start...] }
    return out
  }
}
