import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// Images named with a registry are pulled from it by each node's engine, with credentials
  /// the scheduler holds: Debian's docker-registry with basic auth on the test hosts' network.
  @Suite(
    "Private registry with credentials", .serialized, .timeLimit(.minutes(3)),
    .enabled(
      if: TestEnvironment.has(
        TestHosts.available && RuntimeKind.dockerAvailable
          && FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry")),
      "needs root, test hosts, dockerd and docker-registry"))
  struct RegistryTests {
    let cluster = ProcessCluster("registry")
    let app = "rg\(UUID().uuidString.prefix(6).lowercased())"
    let password = "pw-\(UUID().uuidString)"

    /// docker-registry on the root side of the test hosts' bridge, with one htpasswd user.
    func startRegistry(port: Int) throws -> Process {
      let dir = cluster.workDir.appendingPathComponent("registry")
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      let hash = try runToEnd(
        URL(fileURLWithPath: "/usr/bin/python3"),
        [
          "-W", "ignore", "-c",
          "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
          password,
        ])
      try #require(hash.status == 0, "\(hash.output)")
      try "turnout:\(hash.output.trimmingCharacters(in: .whitespacesAndNewlines))\n".write(
        to: dir.appendingPathComponent("htpasswd"), atomically: true, encoding: .utf8)
      let config = """
        version: 0.1
        storage:
          filesystem:
            rootdirectory: \(dir.appendingPathComponent("data").path)
        http:
          addr: \(TestHosts.rootAddress):\(port)
        auth:
          htpasswd:
            realm: turnout-test
            path: \(dir.appendingPathComponent("htpasswd").path)
        """
      try config.write(
        to: dir.appendingPathComponent("config.yml"), atomically: true, encoding: .utf8)
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
      process.arguments = ["serve", dir.appendingPathComponent("config.yml").path]
      let log = dir.appendingPathComponent("registry.log")
      FileManager.default.createFile(atPath: log.path, contents: nil)
      process.standardOutput = try FileHandle(forWritingTo: log)
      process.standardError = try FileHandle(forWritingTo: log)
      try process.run()
      return process
    }

    @Test("nodes pull a registry's image with the scheduler's credentials, refused without")
    func pullsWithCredentials() async throws {
      let hosts = try await TestHosts.up(2)
      defer { hosts.down() }
      let port = freePort()
      let registry = try startRegistry(port: port)
      defer { registry.terminate() }
      let image = "\(TestHosts.rootAddress):\(port)/sample:1"

      // Put the sample image into the registry from th1, logged in with a config of its own,
      // and leave th1's engine without it: both hosts must pull.
      let config = cluster.workDir.appendingPathComponent("docker-config").path
      let script = """
        set -e
        docker save turnout-sample:1 | DOCKER_HOST=unix://\(TestHosts.socket("th1")) docker load -q
        export DOCKER_HOST=unix://\(TestHosts.socket("th1"))
        for i in $(seq 1 50); do
          echo "\(password)" | docker --config \(config) login -u turnout --password-stdin \(TestHosts.rootAddress):\(port) >/dev/null 2>&1 && break
          sleep 0.2
        done
        docker tag turnout-sample:1 \(image)
        docker --config \(config) push -q \(image)
        docker rmi -f turnout-sample:1 \(image) >/dev/null
        """
      let seeded = try await SchedTestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
      try #require(seeded.status == 0, "\(seeded.output)")

      let scheduler = cluster.scheddForHosts()
      try scheduler.start()
      let agents = hosts.names.map { cluster.agent(onHost: $0) }
      for agent in agents { try agent.start() }
      defer {
        for agent in agents { agent.kill(SIGTERM) }
        scheduler.kill(SIGTERM)
      }
      #expect(
        await eventually(timeout: .seconds(20)) {
          (try? await cluster.api.nodes().filter { $0.state == .ready }.count) == 2
        })
      var spec = ProcessCluster.sampleSpec(app, maxPerNode: 1)
      spec.image = image
      _ = try await cluster.api.apply(spec)

      let refused = try await cluster.schedctl(["deploy", app, "--timeout", "60s"])
      #expect(refused.status == 1, "\(refused.output)")
      #expect(refused.output.contains("refused"), "\(refused.output)")
      #expect(refused.output.contains("no basic auth credentials"), "\(refused.output)")

      let login = try await SchedTestSupport.run(
        URL(fileURLWithPath: "/bin/sh"),
        [
          "-c",
          "printf '%s\\n' \"$PW\" | \"$SCHEDCTL\" registry login \(TestHosts.rootAddress):\(port) --username turnout --password-stdin",
        ],
        environment: ProcessInfo.processInfo.environment.merging([
          "PW": password,
          "SCHEDCTL": try ManagedProcess.binDirectory().appendingPathComponent("schedctl").path,
          "TURNOUT_API": "http://127.0.0.1:\(cluster.apiPort)",
          "TURNOUT_API_TOKEN": ProcessCluster.apiToken,
        ]) { $1 })
      #expect(login.status == 0, "\(login.output)")
      let listed = try await cluster.schedctl(["registry", "ls"])
      #expect(listed.output.contains("turnout"), "\(listed.output)")
      #expect(!listed.output.contains(password))

      let deploy = try await cluster.schedctl(["deploy", app, "--timeout", "60s"])
      #expect(deploy.status == 0, "\(deploy.output)")
      for host in hosts.names {
        let held = try TestHosts.docker(host, ["image", "inspect", "-f", "{{.Id}}", image])
        #expect(held.status == 0, "\(host): \(held.output)")
      }
      // The password went to the agents and nowhere it could be read back.
      for log in [scheduler.log] + agents.map(\.log) { #expect(!log.contains(password)) }
      let events = try await cluster.api.events(limit: 1000)
      #expect(!events.contains { $0.detail.contains(password) })
      #expect(events.contains { $0.kind == "registry.login" })
    }
  }
}
