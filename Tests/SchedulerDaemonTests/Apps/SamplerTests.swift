import AgentCore
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

/// The scheduler's sampler in-process: node usage and each set's containers, stored as points.
@Suite("Sampler in-process", .timeLimit(.minutes(1)))
struct SamplerTests {
  @Test("node usage and the containers of a set are sampled into stored points")
  func samplesNodesAndSets() async throws {
    let (scheduler, agent) = try await InProcessScheduler.withDeployedWeb(
      sampleInterval: .milliseconds(300))
    defer { agent.cancel() }
    let api = scheduler.api
    // The fake runtime reports 1 MiB per container: the set's two make 2 MiB.
    var points: [SamplePoint] = []
    #expect(
      await eventually(timeout: .seconds(20), every: .milliseconds(200)) {
        points = (try? await api.samples(["set/web/blue/memory", "node/n1/cpu"])) ?? []
        return points.contains { $0.series == "set/web/blue/memory" && $0.mean == 2 * 1_048_576 }
      }, "points: \(points)")
    #expect(points.contains { $0.series == "node/n1/cpu" && $0.resolution == 10 })
    await #expect(throws: ClientError.self) { _ = try await api.samples([]) }
    await scheduler.stop()
  }
}
