import Foundation
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// `sched-sim`, the simulator `scripts/bench-scale` runs, against a real schedd, small: its
  /// agents (the real agent code) join, heartbeat on the shared clock or each on its own timer,
  /// and ack the deploys it sends over its keep-alive lanes.
  @Suite("sched-sim against schedd", .serialized, .timeLimit(.minutes(3)))
  struct SchedSimProcessTests {
    @Test(
      "40 simulated nodes join and stay up; 12 deploys of 3 slots are answered and acked whole",
      arguments: [10, 0])
    func smallRun(tickMillis: Int) async throws {
      let cluster = ProcessCluster("sim-\(tickMillis)")
      let scheduler = cluster.schedd(["--insecure-cluster"])
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      #expect(await eventually(timeout: .seconds(20)) { (try? await cluster.api.nodes()) != nil })
      let sim = ManagedProcess(
        "sched-sim",
        [
          "--cluster", "127.0.0.1:\(cluster.clusterPort)",
          "--api", "http://127.0.0.1:\(cluster.apiPort)", "--token", ProcessCluster.apiToken,
          "--join-token", ProcessCluster.joinToken, "--pid", "\(scheduler.pid ?? 0)",
          "--nodes", "40", "--seconds", "2", "--apps", "12", "--slots", "3",
          "--concurrency", "4", "--tick-millis", "\(tickMillis)",
        ], logDirectory: cluster.workDir)
      try sim.start()
      defer { sim.kill(SIGTERM) }
      let status = await sim.waitForExit(timeout: .seconds(120))
      let log = sim.log
      #expect(status == 0, "sched-sim ended with \(String(describing: status)):\n\(log)")
      #expect(log.contains("joined: 40 of 40 nodes ready"), "\(log)")
      #expect(log.contains("0 nodes marked down, 40 of 40 ready at the end"), "\(log)")
      #expect(log.contains("36 of 36 slots acked by their nodes, 12 of 12 deploys whole"), "\(log)")
      #expect(log.contains("deploy requests: 12 requests"), "\(log)")
      // What the scheduler recorded: every slot placed, on the simulated nodes.
      let placed = try await cluster.api.placement().slots
      #expect(placed.count == 36)
      #expect(Set(placed.map(\.node.rawValue)).allSatisfy { $0.hasPrefix("sim-") })
    }
  }
}
