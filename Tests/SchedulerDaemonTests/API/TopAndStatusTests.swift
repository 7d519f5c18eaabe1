import AgentCore
import Foundation
import SchedModel
import SchedTestSupport
import Testing

@testable import SchedCtlCommands

@Suite("schedctl top and status: recent traffic")
struct TopAndStatusTests {
  @Test func recentTrafficSumsTheWindowPerColor() {
    func points(_ color: Color, _ metric: String, _ values: [Double]) -> [SamplePoint] {
      values.enumerated().map {
        SamplePoint(
          series: "set/web/\(color.rawValue)/\(metric)", resolution: 10,
          start: 1000 + Int64($0.offset) * 10, mean: $0.element, count: 1)
      }
    }
    let all: [SamplePoint] =
      points(.blue, "requests", [10, 20, 30]) + points(.blue, "2xx", [10, 18, 26])
      + points(.blue, "4xx", [0, 2, 0]) + points(.blue, "5xx", [0, 0, 3])
      + points(.blue, "proxy_error", [0, 0, 1]) + points(.blue, "memory", [1_048_576, 2_097_152])
      + points(.green, "cpu", [250])
    let recent = RecentTraffic.summarize(all, app: "web")
    #expect(recent.map(\.color) == [.blue, .green])
    let blue = recent[0]
    #expect(blue.averageRate == 20)
    #expect(blue.latestRate == 30)
    #expect(blue.success.map { ($0 * 10).rounded() / 10 } == 90)  // 54 of 60
    #expect(blue.clientErrors.map { ($0 * 10).rounded() / 10 } == 3.3)
    #expect(blue.failures.map { ($0 * 10).rounded() / 10 } == 6.7)  // 5xx and proxy errors
    #expect(blue.trend == "▃▆█")  // 10, 20, 30 of 30 on 8 levels
    #expect(blue.memoryBytes == Double(2 << 20))
    #expect(recent[1].success == nil)  // no requests: no shares
    #expect(recent[1].cpuMillis == 250)
    #expect(RecentTraffic.sparkline([0, 0]) == "▁▁")
  }

  @Test("the binaries show sets with their containers' memory, refreshing")
  func topAndStatusAsProcesses() async throws {
    let (scheduler, agent) = try await InProcessScheduler.withDeployedWeb(
      sampleInterval: .milliseconds(300))
    defer { agent.cancel() }
    func schedctl(_ arguments: [String]) async throws -> String {
      try await run(
        ManagedProcess.binDirectory().appendingPathComponent("schedctl"), arguments,
        environment: scheduler.schedctlEnvironment
      ).output
    }
    // The fake runtime reports 1 MiB per container: the set's two make 2 MiB.
    var top = ""
    #expect(
      await eventually(timeout: .seconds(20), every: .milliseconds(300)) {
        top = (try? await schedctl(["top", "--once"])) ?? ""
        return top.contains("2.0Mi") || top.contains("2Mi")
      }, "\(top)")
    #expect(top.contains("n1") && top.contains("ready"))
    #expect(
      top.range(of: #"web\s+blue\s+live\s+2/2 ready"#, options: .regularExpression) != nil, "\(top)"
    )
    let frames = try await schedctl(["top", "--frames", "2", "--interval", "200ms"])
    #expect(frames.components(separatedBy: "schedctl top ").count - 1 == 2)
    #expect(frames.contains("\u{1B}[2J"))  // each frame clears the screen first
    let status = try await schedctl(["status", "web", "--minutes", "2"])
    #expect(status.contains("last 2 min (10 s points)"), "\(status)")
    #expect(
      status.range(of: #"blue\s+0\.0\s+0\.0\s+-\s+-\s+-"#, options: .regularExpression) != nil,
      "\(status)")
    await scheduler.stop()
  }
}
