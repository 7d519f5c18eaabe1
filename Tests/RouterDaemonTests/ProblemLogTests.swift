import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import RouterDaemon

/// The log of failed requests: each said with its reason while few, counted in a burst.
@Suite("failed requests in the log")
struct ProblemLogTests {
  /// Keeps every line logged through it.
  struct Capture: LogHandler {
    let lines: NIOLockedValueBox<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
      get { metadata[key] }
      set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
      lines.withLockedValue { $0.append("\(event.level) \(event.message)") }
    }
  }

  @Test(
    "25 failures in one second: 10 lines with their reasons, then one that counts the 15 left out")
  func aBurstIsCounted() {
    let lines = NIOLockedValueBox<[String]>([])
    var log = ProblemLog(logger: Logger(label: "test") { _ in Capture(lines: lines) })
    let start = NIODeadline.uptimeNanoseconds(5_000_000_000)
    for number in 0..<25 {
      log.log("slot web/blue/\(number) closed", now: start + .milliseconds(Int64(number * 10)))
    }
    let burst = lines.withLockedValue { $0 }
    #expect(burst.count == ProblemLog.burst)
    #expect(burst.first == "warning request failed: slot web/blue/0 closed")
    #expect(burst.last == "warning request failed: slot web/blue/9 closed")
    log.log("slot web/blue/0 refused", now: start + .milliseconds(1_100))
    let after = lines.withLockedValue { $0 }
    #expect(
      Array(after.dropFirst(ProblemLog.burst)) == [
        "warning 15 more failed requests not logged in the last second",
        "warning request failed: slot web/blue/0 refused",
      ])
  }
}
