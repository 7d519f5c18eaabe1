import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import Testing

@testable import SchedulerDaemon

/// Deploys sent at once go through the scheduler in batches (one read of the cluster, one group
/// transaction, one route table): each must still get its own answer and its own ports.
@Suite("Deploys at once, in-process", .timeLimit(.minutes(1)))
struct DeployBatchTests {
  /// Where the sets are committed: in memory at once, in memory taking 20 ms each (later
  /// batches are placed while earlier ones commit), and on SQLite.
  enum Store: String, CaseIterable, CustomTestStringConvertible {
    case memory, slowMemory, sqlite
    var testDescription: String { rawValue }
  }

  @Test(
    "24 apps deployed at once, and one app twice: each answered for itself, no host port given twice, every set recorded",
    arguments: Store.allCases)
  func concurrentDeploys(on kind: Store) async throws {
    let store: any StateStore =
      switch kind {
      case .memory: MemoryStore()
      case .slowMemory: MemoryStore(commitDelay: .milliseconds(20))
      case .sqlite:
        try SQLiteStore(path: temporaryDirectory("batch").appendingPathComponent("s.db").path)
      }
    let cluster = try await DeployTests.Cluster.start(store: store)
    let api = cluster.scheduler.api
    let names = (0..<24).map { "app\($0)" }
    for name in names {
      _ = try await api.apply(
        AppSpec(
          name: name, image: "web:1", slots: 2,
          resources: Resources(cpuMillis: 50, memoryBytes: 16 << 20),
          health: HealthCheck(intervalMillis: 100, timeoutMillis: 100)))
    }
    // Every app at once, and app0 a second time: the core sees both in one batch or two, and
    // refuses the second while the first holds the app.
    let outcomes = await withTaskGroup(of: (String, Result<DeployResponse, ClientError>).self) {
      group in
      for (index, name) in (names + ["app0"]).enumerated() {
        group.addTask {
          // A few milliseconds apart: later batches form while earlier ones commit.
          if kind != .memory { try? await Task.sleep(for: .milliseconds(2 * index)) }
          do { return (name, .success(try await api.deploy(name, image: nil))) } catch {
            return (name, .failure(error as! ClientError))
          }
        }
      }
      var all: [(String, Result<DeployResponse, ClientError>)] = []
      for await outcome in group { all.append(outcome) }
      return all
    }
    var placed: [DeployResponse] = []
    var refused: [String] = []
    for (name, outcome) in outcomes {
      switch outcome {
      case .success(let response):
        #expect(response.app == name, "the answer to \(name) was \(response.app)'s")
        placed.append(response)
      case .failure(let error):
        refused.append("\(name): \(error.message)")
      }
    }
    // app0's second deploy is refused while the first holds the app, or, when the first's
    // set came up before it arrived (a slow machine), builds the other color.
    let twice = placed.filter { $0.app == "app0" }
    #expect(placed.count + refused.count == 25, "\(refused)")
    #expect(refused.allSatisfy { $0.hasPrefix("app0:") }, "\(refused)")
    #expect(twice.count == 2 - refused.count)
    #expect(Set(twice.map(\.color)).count == twice.count, "app0 built one color twice")
    #expect(Set(placed.map(\.app)) == Set(names))
    let ports = placed.flatMap { $0.placed.map { "\($0.node):\($0.hostPort)" } }
    #expect(Set(ports).count == ports.count, "a host port given twice: \(ports.sorted())")
    if kind == .slowMemory {
      #expect(await cluster.scheduler.scheduler.apps.overlappedBatches > 0)
    }
    let recorded = try await api.placement().slots
    #expect(recorded.count == ports.count)
    // Each came up: the batch pushed every node its slots.
    #expect(
      await eventually(timeout: .seconds(20)) {
        var ready = 0
        for name in names where (try? await api.status(name))?.sets.first?.state == .ready {
          ready += 1
        }
        return ready == names.count
      })
    await cluster.stop()
  }
}
