import Foundation
import Logging
import ModelFixtures
import SchedModel
import SchedStore
import Testing

@testable import SchedulerDaemon

@Suite("Cluster: silent and down nodes as the lifecycle observes them")
struct ClusterLivenessTests {
  /// A cluster with one ready node, n1, beating once a second.
  static func oneReadyNode(_ clock: ManualClock) async throws -> Cluster {
    let store = MemoryStore()
    let spec = NodeSpec(
      id: "n1", name: "n1", address: "10.0.0.1",
      capacity: Resources(cpuMillis: 1000, memoryBytes: 1 << 30),
      ports: try PortRange(low: 20000, high: 20009))
    await store.saveNode(
      Node(spec: spec, state: .ready, generation: 1, registeredAt: clock.now()), events: [])
    return try await Cluster(
      store: store, policy: LivenessPolicy(heartbeatInterval: .seconds(1)),
      logger: Logger(label: "test"), now: clock.now)
  }

  @Test("a node that missed beats is silent (counted by the brake), down past the TTL")
  func silentThenDown() async throws {
    let clock = ManualClock()
    let cluster = try await Self.oneReadyNode(clock)
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

  @Test(
    "a beat that changes only usage and samples asks for no pass; health, fetches, a late beat and a return do"
  )
  func beatOutcomes() async throws {
    let clock = ManualClock()
    let cluster = try await Self.oneReadyNode(clock)
    let slot = SlotID(app: "web", color: .blue, index: 0)
    func status(_ health: SlotHealth, cpu: Int64) -> SlotStatus {
      SlotStatus(slot: slot, deployment: "d1", health: health, cpuUsedMillis: cpu)
    }
    func usage(_ cpu: Int64) -> HostUsage {
      HostUsage(cpuUsedMillis: cpu, memoryUsedBytes: 1, memoryAvailableBytes: 1)
    }
    let digest = ContentDigest(rawValue: "sha256:" + String(repeating: "1a", count: 32))!
    let pull = ImagePull(reference: "web:1", manifest: digest, state: .pulling, layers: 2)
    var done = pull
    done.state = .done
    // (seconds later, usage, slots, pulls, expected)
    let beats: [(Double, Int64, [SlotStatus], [ImagePull], BeatOutcome, String)] = [
      (0, 1, [status(.starting, cpu: 1)], [], .changed, "the first report"),
      (1, 2, [status(.starting, cpu: 5)], [], .quiet, "only usage and samples"),
      (1, 3, [status(.healthy, cpu: 5)], [], .changed, "health"),
      (1, 3, [status(.healthy, cpu: 9)], [pull], .changed, "a fetch began"),
      (1, 3, [status(.healthy, cpu: 9)], [pull], .quiet, "the same fetch"),
      (1, 3, [status(.healthy, cpu: 9)], [done], .changed, "the fetch ended"),
      (1, 3, [status(.healthy, cpu: 9)], [], .changed, "fetches gone"),
      (1, 3, [], [], .changed, "the slot gone"),
      (1.9, 3, [], [], .changed, "beating again after missing one"),
      (1, 3, [], [], .quiet, "on time again"),
    ]
    for (later, cpu, slots, pulls, expected, what) in beats {
      clock.advance(by: later)
      let outcome = try await cluster.heartbeat(
        node: "n1", usage: usage(cpu), slots: slots, pulls: pulls)
      #expect(outcome == expected, "\(what)")
    }
    clock.advance(by: 3.5)
    #expect(await cluster.sweep() == ["n1"])
    #expect(try await cluster.heartbeat(node: "n1", usage: usage(1)) == .back)
    #expect(try await cluster.heartbeat(node: "gone", usage: usage(1)) == .quiet, "an unknown node")
  }
}
