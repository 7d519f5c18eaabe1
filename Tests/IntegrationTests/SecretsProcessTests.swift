import AsyncHTTPClient
import Foundation
import NIOCore
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// An app's secrets through a whole deploy, verify and switch on the real Docker Engine: the
  /// containers get them (a variable and a file), and no log, API answer, event, dashboard page
  /// or database file holds them.
  @Suite(
    "Secrets as processes", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine at /var/run/docker.sock"))
  struct SecretsProcessTests {
    let cluster = ProcessCluster("secrets-e2e")
    let app = "sx\(UUID().uuidString.prefix(6).lowercased())"
    let password = "pw-\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
    let token = "tk-\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
    var api: APIClient { cluster.api }

    @Test(
      "after deploy, verify and switch the secrets are in the containers and in no log, answer, event, page or database file"
    )
    func secretsStaySecret() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let agent = cluster.agent("sx1", ports: "29300-29399")
      try agent.start()
      let routerPort = freePort()
      let router = cluster.router("edge-s", port: routerPort, previewPort: freePort())
      try router.start()
      defer {
        router.kill(SIGTERM)
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        ProcessCluster.removeContainers(of: app)
      }
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 1 })
      var spec = ProcessCluster.sampleSpec(app)
      spec.secrets = ["APP_PASSWORD"]
      spec.secretFiles = ["APP_TOKEN"]
      // A test that prints the variable: what it printed is kept with the value masked.
      spec.tests = [
        TestSpec(
          name: "sees-it",
          command: ["sh", "-c", "test -n \"$APP_PASSWORD\" && echo got=$APP_PASSWORD"])
      ]
      _ = try await api.apply(spec)

      // Set from standard input, the way the README shows.
      let first = try await cluster.schedctl(
        ["secret", "set", app, "APP_PASSWORD"], input: password + "\n")
      #expect(first.status == 0, "\(first.output)")
      let second = try await cluster.schedctl(["secret", "set", app, "APP_TOKEN"], input: token)
      #expect(second.status == 0, "\(second.output)")

      #expect(try await cluster.deployBlueThenGreen(app, timeout: .seconds(40)))
      #expect(
        await eventually(timeout: .seconds(10)) {
          (try? await api.routers().routers.first?.inSync) == true
        })
      let verified = try await cluster.schedctl(["verify", app])
      #expect(verified.status == 0, "\(verified.output)")
      let verification = try await api.latestVerification(app)
      let switched = try await cluster.schedctl(["switch", app])
      #expect(switched.status == 0, "\(switched.output)")
      let printed = verification.steps.compactMap(\.output).joined()
      #expect(printed.contains("got=[secret APP_PASSWORD]"), "\(verification.steps)")

      // Inside the container: the variable and the file.
      let container = "turnout-\(app)-green-0"
      let env = try runToEnd(
        URL(fileURLWithPath: "/usr/bin/docker"),
        ["exec", container, "sh", "-c", "echo \"$APP_PASSWORD\"; cat /run/secrets/APP_TOKEN"])
      #expect(env.output == password + "\n" + token, "\(env.output)")
      // What the README says: a variable shows in docker inspect, a file does not.
      let inspect = try runToEnd(URL(fileURLWithPath: "/usr/bin/docker"), ["inspect", container])
      #expect(inspect.output.contains(password))
      #expect(!inspect.output.contains(token))

      // Everything an operator can read, through the API, schedctl and the dashboard.
      var seen: [(String, String)] = []
      func keep(_ name: String, _ value: some Encodable) throws {
        seen.append((name, String(decoding: try JSONEncoder().encode(value), as: UTF8.self)))
      }
      try keep("nodes", try await api.nodes())
      try keep("placement", try await api.placement())
      try keep("apps", try await api.apps())
      try keep("status", try await api.status(app))
      try keep("events", try await api.events(limit: 1000))
      try keep("routers", try await api.routers())
      try keep("verification", verification)
      try keep("secrets", try await api.secrets(app: app))
      for verb in [["status", app], ["events"], ["placement"], ["secret", "ls", app]] {
        seen.append(
          ("schedctl " + verb.joined(separator: " "), try await cluster.schedctl(verb).output))
      }
      seen.append(("metrics", try await Self.page(cluster, "/metrics", bearer: true)))
      seen.append(("dashboard", try await Self.page(cluster, "/dashboard", bearer: false)))
      // Every file the run wrote (logs of every process, the database, its log, the router's
      // state), but the agent's secret files, which are the slots' mounts.
      let files =
        FileManager.default.enumerator(atPath: cluster.workDir.path)?
        .compactMap { $0 as? String }.filter { !$0.contains("/secrets/") } ?? []
      #expect(files.contains { $0.hasSuffix("state.db") })
      #expect(files.contains { $0.hasPrefix("schedd") && $0.hasSuffix(".log") })
      for file in files {
        let path = cluster.workDir.appendingPathComponent(file).path
        guard let data = FileManager.default.contents(atPath: path) else { continue }
        seen.append((file, String(decoding: data, as: UTF8.self)))
      }
      var hits: [String] = []
      for (name, text) in seen where text.contains(password) || text.contains(token) {
        hits.append(name)
      }
      print("secrets e2e: looked in \(seen.count) answers and files, \(hits.count) hold a secret")
      #expect(hits.isEmpty, "a secret's value is in: \(hits)")
      #expect(seen.count > 20)
    }

    /// A page of the API with the bootstrap token, or the dashboard through a login.
    static func page(_ cluster: ProcessCluster, _ path: String, bearer: Bool) async throws -> String
    {
      let client = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
      defer { Task { try? await client.shutdown() } }
      let base = "http://127.0.0.1:\(cluster.apiPort)"
      if bearer {
        return try await TestHTTP.fetch(
          base + path, headers: [("Authorization", "Bearer \(ProcessCluster.apiToken)")],
          client: client
        ).text
      }
      let login = try await TestHTTP.fetch(
        base + "/dashboard/login", method: .POST,
        headers: [("Content-Type", "application/x-www-form-urlencoded")],
        body: ByteBuffer(string: "token=\(ProcessCluster.apiToken)"), client: client)
      let cookie = String((login.headers["set-cookie"] ?? "").prefix { $0 != ";" })
      return try await TestHTTP.fetch(base + path, headers: [("Cookie", cookie)], client: client)
        .text
    }
  }
}
