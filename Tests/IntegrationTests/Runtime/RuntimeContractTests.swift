import AgentCore
import DockerRuntime
import Foundation
import SchedModel
import SchedTestSupport
import Testing

/// The sample image every runtime test uses; `scripts/test` builds it before the tests.
let sampleImage = "turnout-sample:1"

enum RuntimeKind: String, CaseIterable, CustomTestStringConvertible {
  case fake
  case docker

  var testDescription: String { rawValue }

  static var dockerAvailable: Bool {
    TestEnvironment.has(FileManager.default.fileExists(atPath: "/var/run/docker.sock"))
  }

  static var available: [RuntimeKind] { dockerAvailable ? allCases : [.fake] }

  func make() -> any ContainerRuntime {
    switch self {
    case .fake: FakeRuntime(images: [sampleImage])
    case .docker: DockerRuntime()
    }
  }
}

/// Containers made by one test carry its own label, so cleanup never touches anything else.
struct RuntimeFixture {
  let runtime: any ContainerRuntime
  let run = "t\(UUID().uuidString.prefix(8).lowercased())"

  var labels: [String: String] { ["turnout.test": run] }

  func spec(_ suffix: String, port: Int = freePort(), labels extra: [String: String] = [:])
    -> ContainerSpec
  {
    ContainerSpec(
      name: "\(run)-\(suffix)", image: sampleImage, environment: ["GREETING": "hi"],
      labels: labels.merging(extra) { $1 }, cpuMillis: 250, memoryBytes: 64 << 20,
      containerPort: 8080, hostIP: "127.0.0.1", hostPort: port)
  }

  func cleanUp() async {
    for container in (try? await runtime.list(labels: labels)) ?? [] {
      try? await runtime.remove(container.id)
    }
  }
}

extension ProcessSuites {
  @Suite("ContainerRuntime contract", .serialized, .timeLimit(.minutes(2)))
  struct RuntimeContractTests {
    @Test(arguments: RuntimeKind.available)
    func createStartInspect(kind: RuntimeKind) async throws {
      let fixture = RuntimeFixture(runtime: kind.make())
      let port = freePort()
      let id = try await fixture.runtime.create(
        fixture.spec("web", port: port, labels: ["turnout.app": "web"]))
      try await fixture.runtime.start(id)
      try await fixture.runtime.start(id)  // starting twice is fine
      let info = try await fixture.runtime.inspect(id)
      #expect(info.id == id)
      #expect(info.name == "\(fixture.run)-web")
      #expect(info.state == .running)
      #expect(info.labels["turnout.app"] == "web")
      #expect(info.cpuMillis == 250)
      #expect(info.memoryBytes == 64 << 20)
      #expect(info.publishedPorts == ["127.0.0.1:\(port)"])
      #expect(info.restartPolicy == "unless-stopped")
      #expect(info.startedAt != nil)
      #expect(try await fixture.runtime.inspect(info.name).id == id)
      await fixture.cleanUp()
    }

    @Test(arguments: RuntimeKind.available)
    func imageIDsPrivateNetworksAndLogs(kind: RuntimeKind) async throws {
      let fixture = RuntimeFixture(runtime: kind.make())
      let runtime = fixture.runtime
      let digest = try await runtime.imageID(sampleImage)
      #expect(digest.hasPrefix("sha256:") && digest.count == 71)
      #expect(try await runtime.imageID(digest) == digest)
      await #expect(throws: RuntimeError.self) { try await runtime.imageID("turnout-none:0") }

      let network = try await runtime.createNetwork(
        name: "\(fixture.run)-net", labels: fixture.labels)
      #expect(try await runtime.listNetworks(labels: fixture.labels) == [network])
      if let fake = runtime as? FakeRuntime {
        await fake.whenStarted { spec in spec.command != nil ? (0, "1\n") : nil }
      }
      var companion = fixture.spec("db")
      companion.network = "\(fixture.run)-net"
      companion.aliases = ["db"]
      companion.restartUnlessStopped = false
      try await runtime.start(try await runtime.create(companion))
      // A one-shot container from the image's digest reaches the companion by its name.
      var probe = fixture.spec("probe")
      probe.image = digest
      probe.network = "\(fixture.run)-net"
      probe.restartUnlessStopped = false
      probe.command = [
        "sh", "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://db:8080/version && exit 0; sleep 0.3; done; exit 1",
      ]
      let id = try await runtime.create(probe)
      try await runtime.start(id)
      var info = try await runtime.inspect(id)
      for _ in 0..<100 where info.state == .running {
        try await Task.sleep(for: .milliseconds(100))
        info = try await runtime.inspect(id)
      }
      #expect(info.state == .exited)
      #expect(info.exitCode == 0)
      #expect(info.imageID == digest)
      #expect(try await runtime.logs(id, tailBytes: 100).contains("1"))
      await fixture.cleanUp()
      try await runtime.removeNetwork(network)
      try await runtime.removeNetwork(network)  // removing twice is fine
      #expect(try await runtime.listNetworks(labels: fixture.labels).isEmpty)
    }

    @Test(arguments: RuntimeKind.available)
    func sameNameTwiceIsAConflict(kind: RuntimeKind) async throws {
      let fixture = RuntimeFixture(runtime: kind.make())
      _ = try await fixture.runtime.create(fixture.spec("one"))
      do {
        _ = try await fixture.runtime.create(fixture.spec("one"))
        Issue.record("expected a conflict")
      } catch {
        #expect(error.code == .conflict)
      }
      #expect(try await fixture.runtime.list(labels: fixture.labels).count == 1)
      await fixture.cleanUp()
    }

    @Test(arguments: RuntimeKind.available)
    func listFindsOnlyLabelledContainers(kind: RuntimeKind) async throws {
      let fixture = RuntimeFixture(runtime: kind.make())
      let other = RuntimeFixture(runtime: fixture.runtime)
      _ = try await fixture.runtime.create(fixture.spec("a", labels: ["turnout.color": "blue"]))
      _ = try await fixture.runtime.create(fixture.spec("b", labels: ["turnout.color": "green"]))
      _ = try await other.runtime.create(other.spec("c"))
      #expect(
        try await fixture.runtime.list(labels: fixture.labels).map(\.name) == [
          "\(fixture.run)-a", "\(fixture.run)-b",
        ])
      let blue = try await fixture.runtime.list(
        labels: fixture.labels.merging(["turnout.color": "blue"]) { $1 })
      #expect(blue.map(\.name) == ["\(fixture.run)-a"])
      #expect(blue.first?.state == .created)
      await fixture.cleanUp()
      await other.cleanUp()
      #expect(try await fixture.runtime.list(labels: fixture.labels).isEmpty)
    }

    @Test(arguments: RuntimeKind.available)
    func stopAndRemoveAreIdempotent(kind: RuntimeKind) async throws {
      let fixture = RuntimeFixture(runtime: kind.make())
      let id = try await fixture.runtime.create(fixture.spec("s"))
      try await fixture.runtime.start(id)
      try await fixture.runtime.stop(id, timeout: .seconds(2))
      try await fixture.runtime.stop(id, timeout: .seconds(2))
      #expect(try await fixture.runtime.inspect(id).state == .exited)
      try await fixture.runtime.remove(id)
      try await fixture.runtime.remove(id)
      do {
        _ = try await fixture.runtime.inspect(id)
        Issue.record("expected not found")
      } catch {
        #expect(error.code == .notFound)
      }
    }

    @Test(arguments: RuntimeKind.available)
    func missingImagesAreNamed(kind: RuntimeKind) async throws {
      let fixture = RuntimeFixture(runtime: kind.make())
      var spec = fixture.spec("x")
      spec.image = "turnout-no-such-image:1"
      do {
        _ = try await fixture.runtime.create(spec)
        Issue.record("expected not found")
      } catch {
        #expect(error.code == .notFound)
      }
      do {
        try await fixture.runtime.ensureImage("turnout-no-such-image:1")
        Issue.record("expected the pull to fail")
      } catch {
        #expect(error.code == .notFound)
        #expect(error.message.contains("turnout-no-such-image:1"))
      }
      try await fixture.runtime.ensureImage(sampleImage)
    }

    @Test(arguments: RuntimeKind.available)
    func statsOfARunningContainer(kind: RuntimeKind) async throws {
      let fixture = RuntimeFixture(runtime: kind.make())
      let id = try await fixture.runtime.create(fixture.spec("stats"))
      try await fixture.runtime.start(id)
      let stats = try await fixture.runtime.stats(id)
      #expect(stats.memoryBytes > 0)
      #expect(stats.cpuMillis >= 0)
      await fixture.cleanUp()
    }
  }

  @Suite(
    "Docker Engine specifics", .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine here"))
  struct DockerRuntimeTests {
    @Test func negotiatesTheEnginesVersion() async throws {
      let version = try await DockerRuntime().apiVersion()
      let parts = version.split(separator: ".").compactMap { Int($0) }
      #expect(parts.count == 2)
      #expect(parts[0] == 1 && parts[1] >= 41)
    }

    @Test func aMissingSocketSaysWhatToDo() async {
      do {
        _ = try await DockerRuntime(socketPath: "/tmp/no-docker-here.sock").list(labels: [:])
        Issue.record("expected unavailable")
      } catch {
        #expect(error.code == .unavailable)
        #expect(error.message.contains("Is dockerd running"))
      }
    }

    /// The app spec's `log:` reaches Docker as the container's `HostConfig.LogConfig`.
    @Test func theLogDriverAndItsOptionsArePassedThrough() async throws {
      let fixture = RuntimeFixture(runtime: DockerRuntime())
      var spec = fixture.spec("logs")
      spec.log = LogConfig(driver: "json-file", options: ["max-size": "1m", "max-file": "2"])
      let id = try await fixture.runtime.create(spec)
      let inspected = try await run(
        URL(fileURLWithPath: "/usr/bin/env"),
        [
          "docker", "inspect", "-f",
          "{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}}", id,
        ])
      #expect(inspected.output == "json-file {\"max-file\":\"2\",\"max-size\":\"1m\"}\n")
      var quiet = fixture.spec("nologs")
      quiet.log = LogConfig(driver: "none")
      let silent = try await fixture.runtime.create(quiet)
      try await fixture.runtime.start(silent)
      let none = try await run(
        URL(fileURLWithPath: "/usr/bin/env"),
        [
          "docker", "inspect", "-f", "{{.HostConfig.LogConfig.Type}}", silent,
        ])
      #expect(none.output == "none\n")
      await fixture.cleanUp()
    }

    @Test func theContainerAnswersOnItsPublishedPort() async throws {
      let fixture = RuntimeFixture(runtime: DockerRuntime())
      let port = freePort()
      let id = try await fixture.runtime.create(fixture.spec("http", port: port))
      try await fixture.runtime.start(id)
      var body = ""
      _ = await eventually(timeout: .seconds(10)) {
        guard let answer = await httpGet("http://127.0.0.1:\(port)/version") else { return false }
        body = answer.body
        return true
      }
      #expect(body == "1\n")
      // The sample app exits on SIGTERM, so a stop is quick rather than waiting for the kill.
      let started = ContinuousClock.now
      try await fixture.runtime.stop(id, timeout: .seconds(10))
      #expect(ContinuousClock.now - started < .seconds(3))
      await fixture.cleanUp()
    }
  }
}
