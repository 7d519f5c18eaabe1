import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import SchedWire
import Testing

@Suite("Operator API", .timeLimit(.minutes(1)))
struct APITests {
  @Test func tokenIsRequired() async throws {
    let scheduler = try await InProcessScheduler.start()
    let wrong = APIClient(baseURL: "http://127.0.0.1:\(scheduler.apiPort)", token: "nope")
    do {
      _ = try await wrong.nodes()
      Issue.record("expected unauthorized")
    } catch {
      #expect(error.code == .unauthorized)
      #expect(error.message.contains("bearer token refused"))
    }
    await scheduler.stop()
  }

  @Test func unreachableSchedulerIsNamed() async throws {
    let client = APIClient(baseURL: "http://127.0.0.1:\(freePort())", token: "x")
    do {
      _ = try await client.nodes()
      Issue.record("expected unreachable")
    } catch {
      #expect(error.code == .unreachable)
      #expect(error.message.contains("Is schedd running?"))
    }
  }

  @Test func planFitsOrSaysWhyNot() async throws {
    let scheduler = try await InProcessScheduler.start(missedBeats: 12)
    let agents = [
      scheduler.startAgent(
        "a", probe: FixedProbe(capacity: Resources(cpuMillis: 2000, memoryBytes: 4 << 30))),
      scheduler.startAgent(
        "b", probe: FixedProbe(capacity: Resources(cpuMillis: 2000, memoryBytes: 4 << 30))),
    ]
    #expect(await eventually { (try? await scheduler.api.nodes().count) == 2 })
    let fits = try await scheduler.api.plan(
      PlanRequest(slots: 4, cpuMillis: 1000, memoryBytes: 1 << 30))
    #expect(fits.fits)
    #expect(fits.placed.map(\.node) == ["a", "a", "b", "b"])
    let tooBig = try await scheduler.api.plan(
      PlanRequest(slots: 5, cpuMillis: 1000, memoryBytes: 1 << 30))
    #expect(!tooBig.fits)
    #expect(tooBig.unplaced.count == 5)
    #expect(tooBig.unplaced.last?.reason == "cpu short on 2 nodes")
    do {
      _ = try await scheduler.api.plan(PlanRequest(slots: 0, cpuMillis: 1, memoryBytes: 1))
      Issue.record("expected bad request")
    } catch {
      #expect(error.code == .badRequest)
      #expect(error.message.contains("at least 1 slot"))
    }
    // Planning changes nothing.
    #expect(try await scheduler.api.placement().slots.isEmpty)
    for agent in agents { agent.cancel() }
    await scheduler.stop()
  }

  @Test func placementShowsSlotsAndFreeCapacity() async throws {
    let store = MemoryStore()
    let scheduler = try await InProcessScheduler.start(store: store, missedBeats: 12)
    let agent = scheduler.startAgent(
      "a", probe: FixedProbe(capacity: Resources(cpuMillis: 2000, memoryBytes: 4 << 30)))
    #expect(await eventually { (try? await scheduler.api.nodes().count) == 1 })
    let slot = Allocation(
      slot: SlotID(app: "web", color: .blue, index: 0), node: "a", hostPort: 20000,
      resources: Resources(cpuMillis: 500, memoryBytes: 1 << 30))
    try await store.replaceAllocations(app: "web", color: .blue, with: [slot], events: [])
    let placement = try await scheduler.api.placement()
    #expect(placement.slots == [slot])
    #expect(placement.nodes[0].free == Resources(cpuMillis: 1500, memoryBytes: 3 << 30))
    // The plan sees the allocation: a slot of 1600m no longer fits.
    let plan = try await scheduler.api.plan(PlanRequest(slots: 1, cpuMillis: 1600, memoryBytes: 1))
    #expect(!plan.fits)
    agent.cancel()
    await scheduler.stop()
  }

  @Test func eventsArePaged() async throws {
    let store = MemoryStore()
    await store.appendEvents((1...5).map { Fixtures.event("e\($0)") })
    let scheduler = try await InProcessScheduler.start(store: store)
    let page = try await scheduler.api.events(after: 2, limit: 2)
    #expect(page.map(\.kind) == ["e3", "e4"])
    await scheduler.stop()
  }
}
