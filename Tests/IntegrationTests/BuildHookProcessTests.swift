import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// The build webhook on real processes: a signed push builds the ref from the spec's git
  /// repository on the builder and deploys the candidate; a bad signature changes nothing.
  @Suite(
    "Build webhook", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: TestEnvironment.has(RuntimeKind.dockerAvailable), "needs dockerd and git"))
  struct BuildHookProcessTests {
    let cluster = ProcessCluster("buildhook")
    let app = "bh\(UUID().uuidString.prefix(6).lowercased())"

    /// A git repository with a Dockerfile on the sample image, one commit on `main`.
    func repository() throws -> URL {
      let directory = cluster.workDir.appendingPathComponent("repo")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      try "FROM turnout-sample:1\nCOPY app.txt /www/app.txt\n".write(
        to: directory.appendingPathComponent("Dockerfile"), atomically: true, encoding: .utf8)
      try "from git\n".write(
        to: directory.appendingPathComponent("app.txt"), atomically: true, encoding: .utf8)
      let script = """
        set -e
        cd '\(directory.path)'
        git init -q -b main .
        git -c user.email=t@example.com -c user.name=test add -A
        git -c user.email=t@example.com -c user.name=test commit -q -m one
        """
      let made = try runToEnd(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
      try #require(made.status == 0, "\(made.output)")
      return directory
    }

    /// POSTs `body` to the webhook with `signature`; returns the HTTP status and body.
    func post(_ body: String, signature: String?) throws -> (status: Int, body: String) {
      var arguments = [
        "-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
        "http://127.0.0.1:\(cluster.apiPort)/v1/apps/\(app)/hooks/build",
        "-H", "Content-Type: application/json", "--data-binary", body,
      ]
      if let signature { arguments += ["-H", "X-Hub-Signature-256: \(signature)"] }
      let result = try runToEnd(URL(fileURLWithPath: "/usr/bin/curl"), arguments)
      let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
      return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func sign(_ body: String, _ secret: String) throws -> String {
      let script = """
        import hmac, hashlib, sys
        print("sha256=" + hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())
        """
      let result = try runToEnd(
        URL(fileURLWithPath: "/usr/bin/python3"), ["-c", script, secret, body])
      return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a signed push builds from git and deploys the candidate; a bad signature builds nothing")
    func signedPush() async throws {
      let repo = try repository()
      let (scheduler, agent) = try await cluster.startWithBuilder(
        app: app, ports: "24800-24899",
        build: BuildSettings(git: "file://\(repo.path)", onPush: .deploy))
      defer {
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        ProcessCluster.removeContainers(of: app)
        ProcessCluster.removeBuiltImages(of: app)
      }
      let secret = try await cluster.api.rotateHookSecret(app).secret
      let body = #"{"ref":"refs/heads/main","after":"0000"}"#

      // Wrong secret, no signature, a signature of another body: refused, nothing built.
      for signature in [try sign(body, "not-the-secret"), nil, try sign(body + " ", secret)] {
        let refused = try post(body, signature: signature)
        #expect(refused.status == 401, "\(refused)")
        #expect(refused.body.contains("signature"), "\(refused.body)")
      }
      #expect(try await cluster.api.builds(app: app).isEmpty)

      let accepted = try post(body, signature: try sign(body, secret))
      #expect(accepted.status == 202, "\(accepted)")
      var built: BuildRecord?
      #expect(
        await eventually(timeout: .seconds(90)) {
          built = try? await cluster.api.builds(app: app).first
          return built?.isOver == true
        })
      #expect(built?.state == .succeeded, "\(String(describing: built))")
      #expect(built?.reference == "\(app):main-b1")
      #expect(built?.source == "file://\(repo.path)")
      #expect(built?.actor == "webhook")
      // on_push: deploy: the candidate runs exactly what was built.
      #expect(
        await eventually(timeout: .seconds(60)) {
          let status = try? await cluster.api.status(app)
          return status?.sets.contains { $0.image == "\(app):main-b1" && $0.state == .ready }
            == true
        })
      let events = try await cluster.api.events(after: 0, limit: 500)
      #expect(events.contains { $0.kind == "build.succeeded" && $0.subject == "\(app)-1" })
    }

    @Test("on_push: verify with switch_after_verify: a passed verification switches production")
    func verifyThenSwitch() async throws {
      let repo = try repository()
      let (scheduler, agent) = try await cluster.startWithBuilder(
        app: app, ports: "24800-24899",
        build: BuildSettings(
          git: "file://\(repo.path)", onPush: .verify, switchAfterVerify: true))
      defer {
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        ProcessCluster.removeContainers(of: app)
        ProcessCluster.removeBuiltImages(of: app)
      }
      // A router with a preview listener: the verification checks the candidate through it.
      let router = cluster.router("r1", port: freePort(), previewPort: freePort())
      try router.start()
      defer { router.kill(SIGTERM) }
      #expect(
        await eventually(timeout: .seconds(20)) {
          (try? await cluster.api.routers().routers.count) == 1
        })
      // Production first: the sample image, live.
      let first = try await cluster.schedctl(["deploy", app, "--timeout", "60s"])
      #expect(first.status == 0, "\(first.output)")
      let secret = try await cluster.api.rotateHookSecret(app).secret
      let body = #"{"ref":"refs/heads/main"}"#
      let accepted = try post(body, signature: try sign(body, secret))
      #expect(accepted.status == 202, "\(accepted)")
      // Built, deployed as the candidate, verified (no tests or checks: it passes), then switched.
      #expect(
        await eventually(timeout: .seconds(120)) {
          let status = try? await cluster.api.status(app)
          return status?.sets.contains { $0.image == "\(app):main-b1" && $0.live } == true
        })
      var events: [ClusterEvent] = []
      #expect(
        await eventually(timeout: .seconds(60)) {
          events = (try? await cluster.api.events(after: 0, limit: 500)) ?? []
          return events.contains { $0.kind == "app.verified" && $0.actor == "webhook" }
        })
      try await Task.sleep(for: .seconds(2))
      events = try await cluster.api.events(after: 0, limit: 500)
      #expect(!events.contains { $0.kind == "hook.failed" }, "\(events.map(\.detail))")
    }
  }
}
