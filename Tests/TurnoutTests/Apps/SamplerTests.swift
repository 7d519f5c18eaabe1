import AgentCore
import Foundation
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

/// The scheduler's sampler in-process: node usage and each set's containers, stored as points.
@Suite("Sampler in-process", .timeLimit(.minutes(1)))
struct SamplerTests {
  @Test("node usage and the containers of a set are sampled into stored points")
  func samplesNodesAndSets() async throws {
    let scheduler = try await InProcessScheduler.start(
      heartbeat: .milliseconds(250), missedBeats: 12, sampleInterval: .milliseconds(300))
    let agent = scheduler.startRuntimeAgent("n1", runtime: FakeRuntime(images: ["web:1"]))
    defer { agent.cancel() }
    let api = scheduler.api
    #expect(await eventually { (try? await api.nodes().count) == 1 })
    _ = try await api.apply(
      AppSpec(
        name: "web", image: "web:1", slots: 2,
        resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20),
        health: HealthCheck(intervalMillis: 100, timeoutMillis: 100)))
    _ = try await api.deploy("web", image: nil)
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
