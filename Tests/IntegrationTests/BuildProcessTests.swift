import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// Builds on a builder node through the real engine, ordered with the built schedctl: the
  /// layer cache reused by app-only builds and not by full ones, a failing step reported, a
  /// context over the bound refused before upload.
  @Suite(
    "Builds in the cluster", .serialized, .timeLimit(.minutes(4)),
    .enabled(if: TestEnvironment.has(RuntimeKind.dockerAvailable), "needs dockerd"))
  struct BuildProcessTests {
    let cluster = ProcessCluster("builds")
    let app = "bd\(UUID().uuidString.prefix(6).lowercased())"

    /// A context: busybox, a base layer of random bytes made by an early RUN, a small app file.
    func context(app text: String, failing: Bool = false, extra: Int = 0) throws -> URL {
      let directory = cluster.workDir.appendingPathComponent("ctx-\(UUID().uuidString.prefix(8))")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      try FileManager.default.copyItem(
        atPath: "/bin/busybox", toPath: directory.appendingPathComponent("busybox").path)
      var dockerfile = """
        FROM scratch
        COPY busybox /bin/busybox
        RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /base && /bin/busybox dd if=/dev/urandom of=/base/blob bs=1024 count=2048 2>/dev/null"]
        COPY app.txt /app/app.txt

        """
      if failing {
        dockerfile += """
          RUN ["/bin/busybox", "sh", "-c", "echo about to fail on purpose; exit 3"]

          """
      }
      try dockerfile.write(
        to: directory.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
      try text.write(
        to: directory.appendingPathComponent("app.txt"), atomically: true, encoding: .utf8)
      // Left out by .dockerignore: it must not count against the bound nor reach the engine.
      try Data(count: 3 << 20).write(to: directory.appendingPathComponent("scratch.bin"))
      try "scratch.bin\n".write(
        to: directory.appendingPathComponent(".dockerignore"), atomically: true, encoding: .utf8)
      if extra > 0 {
        try Data(count: extra).write(to: directory.appendingPathComponent("extra.bin"))
      }
      return directory
    }

    func start(_ extra: [String] = []) async throws -> (ManagedProcess, ManagedProcess) {
      try await cluster.startWithBuilder(app: app, ports: "24700-24799", scheddFlags: extra)
    }

    func removeImages() { ProcessCluster.removeBuiltImages(of: app) }

    @Test("an app-only build reuses the base layers; a full build makes them again")
    func cacheReuse() async throws {
      let (scheduler, agent) = try await start()
      defer {
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        removeImages()
      }
      let first = try await cluster.schedctl(
        ["build", app, "--context", try context(app: "one").path])
      #expect(first.status == 0, "\(first.output)")
      #expect(first.output.contains("Step 3/"), "the engine's output streams: \(first.output)")
      let second = try await cluster.schedctl(
        ["build", app, "--context", try context(app: "two").path, "--ref", "main"])
      #expect(second.status == 0, "\(second.output)")
      let third = try await cluster.schedctl(
        ["build", app, "--context", try context(app: "two").path, "--full"])
      #expect(third.status == 0, "\(third.output)")

      let builds = try await cluster.api.builds(app: app).sorted { $0.number < $1.number }
      try #require(builds.count == 3)
      #expect(builds.map(\.state) == [.succeeded, .succeeded, .succeeded])
      #expect(builds.map(\.reference) == ["\(app):local-b1", "\(app):main-b2", "\(app):local-b3"])
      let layers = try builds.map { try #require($0.layers) }
      try #require(layers.allSatisfy { $0.count == 3 })
      // App-only after a one-line change: busybox and the base layer are the same bytes,
      // only the app's layer is new.
      #expect(layers[1][0] == layers[0][0])
      #expect(layers[1][1] == layers[0][1])
      #expect(layers[1][2] != layers[0][2])
      #expect(builds[1].cachedSteps == 2, "\(builds[1])")
      // Full: the RUN ran again and made a new base layer (fresh random bytes).
      #expect(layers[2][1] != layers[1][1])
      #expect(builds[2].cachedSteps == 0)
      // Each result is in the image store, ready to deploy, under its pinned manifest.
      let stored = try await cluster.api.images()
      for build in builds {
        let image = try #require(stored.first { $0.image.reference == build.reference })
        #expect(image.image.manifest == build.manifest)
        #expect(image.image.config == build.image)
      }
      // The context's ignored file never reached the store: each context blob is small.
      for build in builds { #expect((build.contextBytes ?? .max) < 2 << 20, "\(build)") }
    }

    @Test("a failing RUN is reported with its step and the end of its output")
    func failingStep() async throws {
      let (scheduler, agent) = try await start()
      defer {
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        removeImages()
      }
      let result = try await cluster.schedctl(
        ["build", app, "--context", try context(app: "x", failing: true).path])
      #expect(result.status == 1, "\(result.output)")
      #expect(result.output.contains("failed: step 5/"), "\(result.output)")
      #expect(result.output.contains("about to fail on purpose"), "\(result.output)")
      let build = try #require(try await cluster.api.builds(app: app).first)
      #expect(build.state == .failed)
      #expect(build.failure?.step == 5)
      #expect(build.failure?.tail.contains("about to fail on purpose") == true)
      #expect(try await cluster.api.images().allSatisfy { !$0.image.reference.hasPrefix(app) })
    }

    @Test("a context over the bound is refused before upload, and nothing builds")
    func contextBound() async throws {
      let (scheduler, agent) = try await start(["--max-build-context", "2Mi"])
      defer {
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
      }
      let big = try context(app: "big", extra: 3 << 20)
      let result = try await cluster.schedctl(["build", app, "--context", big.path])
      #expect(result.status != 0, "\(result.output)")
      #expect(result.output.contains("over the scheduler's bound of 2"), "\(result.output)")
      #expect(result.output.contains(".dockerignore"), "\(result.output)")
      #expect(try await cluster.api.builds(app: app).isEmpty)
      // No blob was uploaded: the store holds nothing at all.
      let blobs = cluster.workDir.appendingPathComponent("images/sha256")
      #expect(((try? FileManager.default.contentsOfDirectory(atPath: blobs.path)) ?? []).isEmpty)
    }
  }
}
