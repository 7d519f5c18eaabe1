/// Runs a job for many callers at once: the calls made while a run is under way share one run
/// after it, and each caller returns once a run that began after its call has ended.
///
/// The scheduler's pass over every app is such a job: a burst of heartbeats that changed
/// something (a thousand nodes beating again after a stall) costs a few passes, not one per
/// beat, so a slow pass cannot pile up work that makes the next beats late.
actor Coalescer {
  private var running = false
  private var waiting: [CheckedContinuation<Void, Never>] = []
  /// How many times a job ran.
  private(set) var runs = 0
  /// Callers waiting for the next run.
  var waitingCount: Int { waiting.count }

  init() {}

  /// Runs `job`, or waits for the run after the current one (which runs the job of the caller
  /// that started it: every caller must pass the same job).
  func run(_ job: @Sendable () async -> Void) async {
    if running {
      await withCheckedContinuation { waiting.append($0) }
      return
    }
    running = true
    runs += 1
    await job()
    while !waiting.isEmpty {
      let served = waiting
      waiting = []
      runs += 1
      await job()
      for caller in served { caller.resume() }
    }
    running = false
  }
}
