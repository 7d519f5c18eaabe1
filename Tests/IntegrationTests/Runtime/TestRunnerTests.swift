import AgentCore
import DockerRuntime
import Foundation
import Logging
import OperatorAPI
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

@testable import AgentDaemon

extension ProcessSuites {
  /// The agent's test runner on the real Docker Engine: commands from the image digest, a
  /// companion reachable by name, a timeout, and nothing left behind in any case.
  @Suite(
    "Verification test runs on the real Docker Engine", .serialized,
    .enabled(if: RuntimeKind.dockerAvailable), .timeLimit(.minutes(2)))
  struct TestRunnerTests {
    let runtime = DockerRuntime()
    let node = NodeID("tr-\(UUID().uuidString.prefix(6).lowercased())")

    var runner: TestRunner {
      var logger = Logger(label: "test.runner")
      logger.logLevel = .warning
      return TestRunner(runtime: runtime, node: node, logger: logger)
    }

    func request(_ run: String, _ test: TestSpec) async throws -> RunTest {
      RunTest(
        run: run, app: "web", image: try await runtime.imageID(sampleImage), test: test,
        cpuMillis: 250, memoryBytes: 64 << 20)
    }

    func leftovers(_ run: String) async throws -> Int {
      try await verifyLeftovers([ManagedLabels.verifyRun: run])
    }

    @Test("a passing and a failing command: exit code, output tail, nothing left")
    func passAndFail() async throws {
      let pass = try await runner.run(
        request(
          "\(node)-pass",
          TestSpec(name: "pass", command: ["sh", "-c", "cat /www/version; echo all good"])))
      #expect(pass.passed)
      #expect(pass.exitCode == 0)
      #expect(pass.output.contains("all good"))
      #expect(try await leftovers("\(node)-pass") == 0)

      let fail = try await runner.run(
        request(
          "\(node)-fail",
          TestSpec(name: "fail", command: ["sh", "-c", "echo 3 tests failed >&2; exit 3"])))
      #expect(!fail.passed)
      #expect(fail.exitCode == 3)
      #expect(fail.output.contains("3 tests failed"))
      #expect(try await leftovers("\(node)-fail") == 0)
    }

    @Test("a companion on the run's private network answers the test by its name")
    func companion() async throws {
      let outcome = try await runner.run(
        request(
          "\(node)-db",
          TestSpec(
            name: "db",
            command: [
              "sh", "-c",
              "for i in $(seq 1 30); do wget -qO- http://db:8080/version && exit 0; sleep 0.2; done; exit 1",
            ],
            timeoutMillis: 30_000, companions: [CompanionSpec(name: "db", image: sampleImage)])))
      #expect(outcome.passed, "\(outcome)")
      #expect(try await leftovers("\(node)-db") == 0)
    }

    @Test("a command over its timeout is stopped and reported; a missing image is an error")
    func timeoutAndMissingImage() async throws {
      var test = TestSpec(name: "slow", command: ["sleep", "30"])
      test.timeoutMillis = 1500
      let started = ContinuousClock.now
      let outcome = try await runner.run(request("\(node)-slow", test))
      #expect(outcome.timedOut)
      #expect(!outcome.passed)
      #expect(ContinuousClock.now - started < .seconds(10))
      #expect(try await leftovers("\(node)-slow") == 0)

      let missing = await runner.run(
        RunTest(
          run: "\(node)-missing", app: "web", image: "sha256:" + String(repeating: "0", count: 64),
          test: TestSpec(name: "x", command: ["true"]), cpuMillis: 100, memoryBytes: 32 << 20))
      #expect(missing.error?.contains("could not run") == true)
      #expect(try await leftovers("\(node)-missing") == 0)
    }

    @Test("what a stopped agent left of a run is removed by the next start's sweep")
    func sweep() async throws {
      let run = "\(node)-left"
      let labels = [
        ManagedLabels.verify: "true", ManagedLabels.verifyRun: run,
        ManagedLabels.node: node.rawValue,
      ]
      let network = try await runtime.createNetwork(name: "turnout-verify-\(run)", labels: labels)
      let id = try await runtime.create(
        ContainerSpec(
          name: "turnout-verify-\(run)-test", image: sampleImage, labels: labels, cpuMillis: 100,
          memoryBytes: 32 << 20, containerPort: 1, hostPort: 0, restartUnlessStopped: false,
          network: network))
      try await runtime.start(id)
      await runner.sweep()
      #expect(try await runtime.list(labels: [ManagedLabels.verifyRun: run]).isEmpty)
      #expect(try await runtime.listNetworks(labels: [ManagedLabels.verifyRun: run]).isEmpty)
    }
  }
}

/// Containers and networks carrying `labels` still on the engine, once a test run's cleanup
/// (detached from the run) had up to 10 s.
func verifyLeftovers(_ labels: [String: String]) async throws -> Int {
  let runtime = DockerRuntime()
  var count = -1
  _ = try await eventually(timeout: .seconds(10)) {
    count =
      try await runtime.list(labels: labels).count + runtime.listNetworks(labels: labels).count
    return count == 0
  }
  return count
}
