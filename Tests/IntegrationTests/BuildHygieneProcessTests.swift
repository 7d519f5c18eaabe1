import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// Build hygiene on real processes: the spec's timeout stops a build, builds of one app
  /// run one at a time, a builder's disk stays under its bound.
  @Suite(
    "Build hygiene", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: TestEnvironment.has(RuntimeKind.dockerAvailable), "needs dockerd"))
  struct BuildHygieneProcessTests {
    let cluster = ProcessCluster("buildhygiene")
    let app = "bg\(UUID().uuidString.prefix(6).lowercased())"

    func context(_ run: String, app text: String = "x") throws -> String {
      let directory = cluster.workDir.appendingPathComponent("ctx-\(UUID().uuidString.prefix(8))")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      try
        "FROM turnout-sample:1\nCOPY app.txt /www/app.txt\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"\(run)\"]\n"
        .write(
          to: directory.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
      try text.write(
        to: directory.appendingPathComponent("app.txt"), atomically: true, encoding: .utf8)
      return directory.path
    }

    func start(agentFlags: [String] = [], build: BuildSettings? = nil) async throws
      -> (ManagedProcess, ManagedProcess)
    {
      try await cluster.startWithBuilder(
        app: app, ports: "24900-24999", agentFlags: agentFlags, build: build)
    }

    func stop(_ processes: (ManagedProcess, ManagedProcess)) {
      processes.1.kill(SIGTERM)
      processes.0.kill(SIGTERM)
      ProcessCluster.removeBuiltImages(of: app)
    }

    @Test("a build past the spec's timeout is stopped, says so, and leaves no container")
    func timeout() async throws {
      let processes = try await start(build: BuildSettings(timeoutMillis: 3000))
      defer { stop(processes) }
      let started = ContinuousClock.now
      let result = try await cluster.schedctl(
        ["build", app, "--context", try context("echo sleeping; sleep 60")])
      #expect(result.status == 1, "\(result.output)")
      #expect(result.output.contains("past its timeout"), "\(result.output)")
      #expect(ContinuousClock.now - started < .seconds(30))
      // The engine stopped the step's container when the build was cut.
      #expect(
        await eventually(timeout: .seconds(20)) {
          let running = try? runToEnd(
            URL(fileURLWithPath: "/usr/bin/docker"),
            ["ps", "-q", "--filter", "ancestor=turnout-sample:1"])
          return running?.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == true
        })
    }

    @Test("two builds of one app run one after the other")
    func serialized() async throws {
      let processes = try await start()
      defer { stop(processes) }
      async let first = cluster.schedctl([
        "build", app, "--context", try context("sleep 2", app: "1"),
      ])
      async let second = cluster.schedctl([
        "build", app, "--context", try context("sleep 2", app: "2"),
      ])
      let results = try await [first, second]
      for result in results { #expect(result.status == 0, "\(result.output)") }
      // In the order they started (the second ordered may have sent its context first).
      let builds = try await cluster.api.builds(app: app).sorted {
        ($0.startedAt ?? .distantFuture) < ($1.startedAt ?? .distantFuture)
      }
      try #require(builds.count == 2)
      #expect(Set(builds.map(\.number)) == [1, 2])
      let firstEnd = try #require(builds[0].finishedAt)
      let secondStart = try #require(builds[1].startedAt)
      #expect(secondStart >= firstEnd, "\(builds)")
    }

    @Test("past the builder's cache bound the older build images go, the newest stays")
    func cacheBound() async throws {
      let processes = try await start(agentFlags: ["--build-cache-limit", "1Mi"])
      defer { stop(processes) }
      for text in ["one", "two"] {
        let result = try await cluster.schedctl(
          ["build", app, "--context", try context("true", app: text)])
        #expect(result.status == 0, "\(result.output)")
        if text == "two" {
          #expect(result.output.contains("removed 1 older build image"), "\(result.output)")
        }
      }
      let tags = try runToEnd(
        URL(fileURLWithPath: "/usr/bin/docker"),
        ["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=\(app)"])
      #expect(tags.output.contains("\(app):local-b2"), "\(tags.output)")
      #expect(!tags.output.contains("\(app):local-b1"), "\(tags.output)")
      // The sample image the builds start from is no build's: it stays.
      #expect(try ProcessCluster.docker(["image", "inspect", "turnout-sample:1"]) == 0)
      // A full build asks the base's registry first; this one has none, so the engine's copy
      // serves, and the log says so.
      let full = try await cluster.schedctl(
        ["build", app, "--full", "--context", try context("true", app: "three")])
      #expect(full.status == 0, "\(full.output)")
      #expect(
        full.output.contains("could not refresh base image turnout-sample:1"), "\(full.output)")
    }
  }
}
