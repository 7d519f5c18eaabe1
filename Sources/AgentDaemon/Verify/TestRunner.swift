import AgentCore
import Foundation
import Logging
import SchedModel
import SchedWire

/// Runs one test of a verification on this node: a private network for the run, the test's
/// companions on it (reachable by name), then the command in a container of the image digest.
/// Waits for the exit or the timeout, keeps the output's tail, and removes the containers and
/// the network in every case. What a crash left behind is swept when the agent starts.
struct TestRunner {
  let runtime: any ContainerRuntime
  let node: NodeID
  let logger: Logger
  /// Gets the run's images from the cluster's store when the engine lacks them.
  var puller: ImagePuller? = nil
  /// How much of the output a result keeps.
  static let outputTail = 4096

  func run(_ request: RunTest) async -> TestOutcome {
    let started = ContinuousClock.now
    func elapsed() -> Int64 {
      let (seconds, atto) = (ContinuousClock.now - started).components
      return seconds * 1000 + atto / 1_000_000_000_000_000
    }
    let prefix = "turnout-verify-\(request.run)"
    let labels = [
      ManagedLabels.verify: "true", ManagedLabels.verifyRun: request.run,
      ManagedLabels.node: node.rawValue, ManagedLabels.app: request.app,
    ]
    defer {
      // Cleanup runs detached from this task's cancellation: it must happen.
      let runtime = self.runtime
      let logger = self.logger
      Task.detached { await Self.removeRun(labels: labels, runtime: runtime, logger: logger) }
    }
    do {
      for source in request.images ?? [] { try await puller?.prepare(source) }
      let network = try await runtime.createNetwork(name: prefix, labels: labels)
      for companion in request.test.companions {
        try await runtime.ensureImage(companion.image)
        let id = try await runtime.create(
          ContainerSpec(
            name: "\(prefix)-\(companion.name)", image: companion.image,
            environment: companion.env, labels: labels, cpuMillis: request.cpuMillis,
            memoryBytes: request.memoryBytes, containerPort: 1, hostPort: 0,
            restartUnlessStopped: false, command: companion.command, network: network,
            aliases: [companion.name]))
        try await runtime.start(id)
      }
      let id = try await runtime.create(
        ContainerSpec(
          name: "\(prefix)-test", image: request.image, environment: request.test.env,
          labels: labels, cpuMillis: request.cpuMillis, memoryBytes: request.memoryBytes,
          containerPort: 1, hostPort: 0, restartUnlessStopped: false,
          command: request.test.command, network: network))
      try await runtime.start(id)
      let deadline = started + .milliseconds(request.test.timeoutMillis)
      var info = try await runtime.inspect(id)
      while info.state == .running || info.state == .created || info.state == .restarting {
        guard ContinuousClock.now < deadline else {
          let output = (try? await runtime.logs(id, tailBytes: Self.outputTail)) ?? ""
          return TestOutcome(
            exitCode: nil, timedOut: true, durationMillis: elapsed(), output: output)
        }
        try await Task.sleep(for: .milliseconds(100))
        info = try await runtime.inspect(id)
      }
      let output = (try? await runtime.logs(id, tailBytes: Self.outputTail)) ?? ""
      return TestOutcome(exitCode: info.exitCode, durationMillis: elapsed(), output: output)
    } catch let error as RuntimeError {
      return TestOutcome(
        exitCode: nil, durationMillis: elapsed(), output: "",
        error: "the test could not run on \(node): \(error.message)")
    } catch {
      return TestOutcome(
        exitCode: nil, durationMillis: elapsed(), output: "",
        error: "the test was interrupted on \(node): \(error)")
    }
  }

  /// Removes every container and network carrying `labels`.
  static func removeRun(labels: [String: String], runtime: any ContainerRuntime, logger: Logger)
    async
  {
    do {
      for container in try await runtime.list(labels: labels) {
        try await runtime.remove(container.id)
      }
      for network in try await runtime.listNetworks(labels: labels) {
        try await runtime.removeNetwork(network)
      }
    } catch {
      logger.error(
        "cannot remove a test run's containers; remove them with docker rm -f (label turnout.verify)",
        metadata: ["error": "\(error)", "run": "\(labels[ManagedLabels.verifyRun] ?? "")"])
    }
  }

  /// Removes what test runs of this node left behind (the agent stopped in the middle of one).
  func sweep() async {
    await Self.removeRun(
      labels: [ManagedLabels.verify: "true", ManagedLabels.node: node.rawValue],
      runtime: runtime, logger: logger)
  }
}
