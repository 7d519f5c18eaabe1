import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// What an eavesdropper on the cluster port sees: every byte between the scheduler and its
  /// agent and router, relayed on loopback and kept.
  @Suite(
    "What crosses the cluster port", .serialized, .timeLimit(.minutes(4)),
    .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine at /var/run/docker.sock"))
  struct CaptureProcessTests {
    let cluster = ProcessCluster("capture")
    let app = "cap\(UUID().uuidString.prefix(6).lowercased())"
    /// An app setting that must not cross in clear.
    let marker = "db-password-\(UUID().uuidString.prefix(8))"

    static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
      let bytes = Array(needle.utf8)
      guard !bytes.isEmpty, haystack.count >= bytes.count else { return false }
      return (0...(haystack.count - bytes.count)).contains { start in
        haystack[start..<(start + bytes.count)].elementsEqual(bytes)
      }
    }

    /// An agent and a router dialing the scheduler through `relay`.
    func peers(through relay: CuttingProxy, insecure: Bool, routerPort: Int, preview: Int)
      -> [ManagedProcess]
    {
      let flags = insecure ? ["--insecure-cluster"] : []
      return [
        ManagedProcess(
          "agent-cap",
          [
            "--scheduler", "127.0.0.1:\(relay.port)", "--token",
            cluster.token(ProcessCluster.joinToken), "--name", "cap1", "--ports", "27000-27099",
            "--max-backoff", "1s",
          ] + flags, logDirectory: cluster.workDir),
        ManagedProcess(
          "router-cap",
          [
            "--scheduler", "127.0.0.1:\(relay.port)", "--token",
            cluster.token(ProcessCluster.routerToken), "--name", "edge-cap",
            "--listen", "127.0.0.1:\(routerPort)", "--preview-listen", "127.0.0.1:\(preview)",
            "--state-file", cluster.workDir.appendingPathComponent("routes-cap.json").path,
          ] + flags, logDirectory: cluster.workDir),
      ]
    }

    @Test(
      "over TLS, a capture of a join, two deploys, a verification and a switch holds no token, no app setting, no JSON"
    )
    func tlsHidesEverything() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let relay = try CuttingProxy(targetPort: cluster.clusterPort, cuts: [], record: true)
      let processes = peers(
        through: relay, insecure: false, routerPort: freePort(), preview: freePort())
      for process in processes { try process.start() }
      defer {
        for process in processes { process.kill(SIGTERM) }
        scheduler.kill(SIGTERM)
        relay.stop()
        ProcessCluster.removeContainers(of: app)
      }
      let api = cluster.api
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 1 })
      #expect(await eventually { (try? await api.routers().routers.count) == 1 })
      var spec = ProcessCluster.sampleSpec(app)
      // A secret (schedctl secret set) and a plain setting: neither may cross in clear.
      spec.secrets = ["DB_PASSWORD"]
      spec.env = ["MODE": marker + "-env"]
      _ = try await api.apply(spec)
      try await api.setSecret(app: app, name: "DB_PASSWORD", value: marker)
      #expect(try await cluster.deployBlueThenGreen(app, timeout: .seconds(60)))
      let verified = try await cluster.schedctl(["verify", app])
      #expect(verified.status == 0, "\(verified.output)")
      let switched = try await cluster.schedctl(["switch", app])
      #expect(switched.status == 0, "\(switched.output)")

      let capture = relay.captured
      #expect(capture.count > 20_000, "only \(capture.count) bytes crossed the relay")
      for needle in [
        ProcessCluster.joinToken, ProcessCluster.routerToken, "TRN-1-", marker, "\"type\"",
        "{\"v\":", "turnout-sample", app,
      ] {
        let found = Self.contains(capture, needle)
        #expect(!found, "'\(needle)' crossed the cluster port in clear")
      }
    }

    @Test("the same capture over --insecure-cluster shows the secret and the JSON: the check sees")
    func plainShowsEverything() async throws {
      let scheduler = cluster.schedd(["--insecure-cluster"])
      try scheduler.start()
      let relay = try CuttingProxy(targetPort: cluster.clusterPort, cuts: [], record: true)
      let processes = peers(
        through: relay, insecure: true, routerPort: freePort(), preview: freePort())
      for process in processes { try process.start() }
      defer {
        for process in processes { process.kill(SIGTERM) }
        scheduler.kill(SIGTERM)
        relay.stop()
      }
      #expect(
        await eventually(timeout: .seconds(20)) { (try? await cluster.api.nodes().count) == 1 })
      #expect(
        await eventually { (try? await cluster.api.routers().routers.count) == 1 })
      let capture = relay.captured
      let seen = [ProcessCluster.joinToken, ProcessCluster.routerToken, "\"type\":\"hello\""]
        .filter { Self.contains(capture, $0) }
      #expect(seen.count == 3, "seen in clear: \(seen)")
      #expect(scheduler.log.contains("plain TCP (--insecure-cluster)"))
    }
  }
}
