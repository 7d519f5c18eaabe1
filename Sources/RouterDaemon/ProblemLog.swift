import Logging
import NIOCore

/// The log of requests one loop failed: each with its reason while they are few, a count once
/// a burst of them (a slot dying under load) would flood the log.
struct ProblemLog {
  /// Lines a second, per loop, before the rest are only counted.
  static let burst = 10

  private let logger: Logger
  private var windowStart = NIODeadline.uptimeNanoseconds(0)
  private var logged = 0
  private var leftOut = 0

  init(logger: Logger = Logger(label: "sched-router.proxy")) {
    self.logger = logger
  }

  mutating func log(_ message: String, now: NIODeadline) {
    if now - windowStart >= .seconds(1) {
      if leftOut > 0 {
        logger.warning(
          "\(leftOut) more failed requests not logged in the last second",
          metadata: ["left_out": "\(leftOut)"])
      }
      windowStart = now
      logged = 0
      leftOut = 0
    }
    guard logged < Self.burst else {
      leftOut += 1
      return
    }
    logged += 1
    logger.warning("request failed: \(message)")
  }
}
