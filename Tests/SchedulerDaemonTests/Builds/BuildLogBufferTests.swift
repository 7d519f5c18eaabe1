import Testing

@testable import SchedulerDaemon

@Suite("Build log buffer: ordered, no repeats, bounded")
struct BuildLogBufferTests {
  @Test("lines arrive in order; a repeated or overlapping message adds only what is new")
  func ordering() {
    var buffer = BuildLogBuffer()
    buffer.append(from: 0, ["a", "b"])
    buffer.append(from: 0, ["a", "b"])
    buffer.append(from: 1, ["b", "c"])
    buffer.append(from: 5, ["gap"])
    #expect(buffer.count == 3)
    #expect(buffer.lines(from: 0) == ["a", "b", "c"])
    #expect(buffer.lines(from: 2) == ["c"])
    #expect(buffer.lines(from: 3) == [])
  }

  @Test("a very long log keeps its head and its tail and counts what it dropped")
  func bounded() {
    var buffer = BuildLogBuffer()
    let total = BuildLogBuffer.headLines + BuildLogBuffer.tailLines + 500
    buffer.append(from: 0, (0..<total).map { "l\($0)" })
    #expect(buffer.count == total)
    #expect(buffer.dropped == 500)
    let all = buffer.lines(from: 0)
    #expect(all.count == total - 500)
    #expect(all.first == "l0")
    #expect(all.last == "l\(total - 1)")
    #expect(!all.contains("l\(BuildLogBuffer.headLines)"))
    // Asking from inside the dropped stretch gives the tail from its start.
    #expect(
      buffer.lines(from: BuildLogBuffer.headLines + 10).first
        == "l\(BuildLogBuffer.headLines + 500)")
  }
}
