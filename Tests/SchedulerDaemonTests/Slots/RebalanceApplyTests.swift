import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Synchronization
import Testing

@testable import SchedCtlCommands

/// `schedctl rebalance --apply`'s sequence against the real scheduler and agents on fake
/// runtimes, in-process.
@Suite("Rebalance apply in-process", .timeLimit(.minutes(1)))
struct RebalanceApplyTests {
  /// Three nodes of 1000m and 1 GiB; x's two slots fill n1's CPU, y's need most of a node's
  /// memory each, so y takes n2 and n3.
  static func paired() async throws -> (InProcessScheduler, [Task<Void, any Error>]) {
    let scheduler = try await InProcessScheduler.start(
      heartbeat: .milliseconds(250), missedBeats: 12)
    let agents = ["n1", "n2", "n3"].map {
      scheduler.startRuntimeAgent(
        $0, runtime: FakeRuntime(images: ["x:1", "y:1"]),
        capacity: Resources(cpuMillis: 1000, memoryBytes: 1 << 30))
    }
    let api = scheduler.api
    #expect(await eventually { (try? await api.nodes().count) == 3 })
    for (name, memory) in [("x", 256), ("y", 768)] {
      _ = try await api.apply(
        AppSpec(
          name: name, image: "\(name):1", slots: 2,
          resources: Resources(cpuMillis: 500, memoryBytes: Int64(memory) << 20),
          health: HealthCheck(intervalMillis: 100, timeoutMillis: 100)))
      _ = try await api.deploy(name, image: nil)
      #expect(
        await eventually { (try? await api.status(name))?.sets.first?.state == .ready },
        "\(name) not ready")
    }
    return (scheduler, agents)
  }

  @Test(
    "a plan that packs nodes exactly full cannot be carried out by blue-green: every set it could not move is named with why, nothing is left half done"
  )
  func noRoomForCopies() async throws {
    let (scheduler, agents) = try await Self.paired()
    let api = scheduler.api
    let plan = try await api.rebalancePlan()
    #expect(plan.nodesInUse == 3 && plan.nodesAfter == 2 && plan.freed == ["n3"], "\(plan)")
    let said = Mutex<[String]>([])
    let run = RebalanceApply(client: api, readyTimeout: .seconds(20)) { line in
      said.withLock { $0.append(line) }
    }
    var message = ""
    do { try await run.carryOut(plan) } catch let error as RebalanceApply.Failure {
      message = error.message
    }
    #expect(message.contains("2 set(s) could not move while their old copies run"), "\(message)")
    #expect(message.contains("x: ") && message.contains("y: "), "\(message)")
    #expect(message.contains("does not fit"), "\(message)")
    #expect(said.withLock { $0 }.isEmpty)
    // Nothing moved, nothing left behind: each app has its one live set where it was.
    for name in ["x", "y"] {
      let status = try await api.status(name)
      #expect(status.sets.map(\.color) == [.blue], "\(name): \(status.sets)")
    }
    #expect(try await api.placement().slots.count == 4)
    for agent in agents { agent.cancel() }
    await scheduler.stop()
  }

  @Test("with room to spare the moves are made as planned, and the freed node is left empty")
  func movesAsPlanned() async throws {
    var cluster = try await SwitchTests.Cluster.start()
    _ = try await cluster.addRouter("edge-1")
    let api = cluster.api
    // a takes more than half of n1, so b goes to n2; then both shrink in the spec: one node
    // holds both.
    for name in ["a", "b"] {
      _ = try await api.apply(Self.spec(name, cpu: 1200))
      _ = try await api.deploy(name, image: nil)
      #expect(await eventually { (try? await api.status(name))?.sets.first?.state == .ready })
    }
    for name in ["a", "b"] { _ = try await api.apply(Self.spec(name, cpu: 500)) }
    #expect(
      await eventually {
        (try? await api.routers())?.routers.first.map { $0.connected && $0.inSync } == true
      })
    let plan = try await api.rebalancePlan()
    #expect(plan.moves.count == 1 && plan.freed.count == 1, "\(plan)")
    let said = Mutex<[String]>([])
    let run = RebalanceApply(client: api, readyTimeout: .seconds(20)) { line in
      said.withLock { $0.append(line) }
    }
    try await run.carryOut(plan)
    let lines = said.withLock { $0 }
    #expect(lines.count == 2 && lines[0].hasPrefix("moved "), "\(lines)")
    let slots = try await api.placement().slots
    #expect(slots.count == 2 && !slots.contains { plan.freed.contains($0.node) }, "\(slots)")
    let moved = try await api.status(plan.moves[0].app)
    #expect(moved.app.live == .green && moved.sets.map(\.color) == [.green])
    await cluster.stop()
  }

  static func spec(_ name: String, cpu: Int64) -> AppSpec {
    AppSpec(
      name: name, image: "web:1", slots: 1,
      resources: Resources(cpuMillis: cpu, memoryBytes: 64 << 20),
      health: HealthCheck(intervalMillis: 100, timeoutMillis: 100), hosts: ["\(name).test"])
  }
}
