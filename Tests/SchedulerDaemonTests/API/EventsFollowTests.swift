import Foundation
import SchedModel
import SchedTestSupport
import Synchronization
import Testing

/// `schedctl events --app APP --follow` as a process against an in-process scheduler.
@Suite("schedctl events --follow", .timeLimit(.minutes(1)))
struct EventsFollowTests {
  @Test("prints one app's new events as they happen, and only that app's")
  func followsOneApp() async throws {
    let scheduler = try await InProcessScheduler.start()
    let api = scheduler.api
    _ = try await api.apply(Fixtures.app("before"))
    let process = Process()
    process.executableURL = try ManagedProcess.binDirectory().appendingPathComponent("schedctl")
    process.arguments = ["events", "--app", "web", "--follow"]
    process.environment = scheduler.schedctlEnvironment
    let pipe = Pipe()
    process.standardOutput = pipe
    let output = Mutex("")
    pipe.fileHandleForReading.readabilityHandler = { handle in
      let text = String(decoding: handle.availableData, as: UTF8.self)
      output.withLock { $0 += text }
    }
    try process.run()
    defer {
      process.terminate()
      process.waitUntilExit()
      pipe.fileHandleForReading.readabilityHandler = nil
    }
    #expect(await eventually { output.withLock { $0.contains("No events yet; following.") } })
    for name in ["web", "other"] {
      _ = try await api.apply(
        AppSpec(
          name: name, image: "web:1", slots: 1,
          resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20)))
    }
    #expect(
      await eventually(timeout: .seconds(20)) {
        output.withLock { $0.contains("app.applied  web  created: 1 x web:1") }
      }, "\(output.withLock { $0 })")
    try await Task.sleep(for: .milliseconds(1500))
    let seen = output.withLock { $0 }
    #expect(!seen.contains("other") && !seen.contains("before"), "\(seen)")
    await scheduler.stop()
  }
}
