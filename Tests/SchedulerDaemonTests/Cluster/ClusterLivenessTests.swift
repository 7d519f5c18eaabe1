import Foundation
import Logging
import ModelFixtures
import SchedModel
import SchedStore
import Testing

@testable import SchedulerDaemon

@Suite("Cluster: silent and down nodes as the lifecycle observes them")
struct ClusterLivenessTests {
  @Test("a node that missed beats is silent (counted by the brake), down past the TTL")
  func silentThenDown() async throws {
    let clock = ManualClock()
    let store = MemoryStore()
    let spec = NodeSpec(
      id: "n1", name: "n1", address: "10.0.0.1",
      capacity: Resources(cpuMillis: 1000, memoryBytes: 1 << 30),
      ports: try PortRange(low: 20000, high: 20009))
    await store.saveNode(
      Node(spec: spec, state: .ready, generation: 1, registeredAt: clock.now()), events: [])
    let cluster = try await Cluster(
      store: store, policy: LivenessPolicy(heartbeatInterval: .seconds(1)),
      logger: Logger(label: "test"), now: clock.now)
    let usage = HostUsage(cpuUsedMillis: 1, memoryUsedBytes: 1, memoryAvailableBytes: 1)
    _ = try await cluster.heartbeat(node: "n1", usage: usage)
    clock.advance(by: 1.7)
    #expect(await cluster.observed().silent.isEmpty, "a beat late is not yet silent")
    clock.advance(by: 0.1)
    #expect(await cluster.observed().silent == ["n1"])
    _ = try await cluster.heartbeat(node: "n1", usage: usage)
    #expect(await cluster.observed().silent.isEmpty, "beating again")
    clock.advance(by: 3.1)
    #expect(await cluster.observed().silent == ["n1"])
    #expect(await cluster.sweep() == ["n1"])
    #expect(await cluster.observed().silent.isEmpty, "down now, no longer silent")
  }
}
