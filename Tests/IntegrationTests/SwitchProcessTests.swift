import AsyncHTTPClient
import DockerRuntime
import Foundation
import NIOCore
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import SchedWire
import Testing
import WireTransport

extension ProcessSuites {
  /// schedd, two sched-agents and two sched-routers as processes, the sample app on the real
  /// Docker Engine, and a load client in the test.
  @Suite(
    "Zero-failure switching on the real Docker Engine", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine at /var/run/docker.sock"))
  struct SwitchProcessTests {
    let cluster = ProcessCluster("switch-e2e")
    let app = "sw\(UUID().uuidString.prefix(6).lowercased())"
    var api: APIClient { cluster.api }

    /// What the load client saw of one request.
    struct Sample: Sendable {
      var started: ContinuousClock.Instant
      var color: String?
      var ok: Bool
      var problem: String?
    }

    /// A switch or rollback as the test saw it: sent, acknowledged, and its target color.
    struct Flip: Sendable {
      var sent: ContinuousClock.Instant
      var acknowledged: ContinuousClock.Instant
      var to: String
    }

    /// `connections` clients, each with its own keep-alive connection, split over `urls`,
    /// requesting until `stop` is set, `deadline` passes or a client made `limit` requests.
    /// `version`: the body each color should answer with (blue runs 1, green 2 by default).
    static func load(
      urls: [String], host: String, connections: Int, stop: OnceFlag,
      deadline: ContinuousClock.Instant, limit: Int = 50_000,
      version expectedVersion: @escaping @Sendable (String?) -> String = {
        $0 == "blue" ? "1" : "2"
      }
    ) async -> [Sample] {
      await withTaskGroup(of: [Sample].self) { group in
        for worker in 0..<connections {
          let url = urls[worker % urls.count] + "/version"
          group.addTask {
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1
            let client = HTTPClient(
              eventLoopGroupProvider: .singleton, configuration: configuration)
            var samples: [Sample] = []
            while !stop.isSet, ContinuousClock.now < deadline,
              samples.count < limit
            {
              let started = ContinuousClock.now
              do {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Host", value: host)
                let response = try await client.execute(request, timeout: .seconds(5))
                let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
                let color = response.headers.first(name: "x-turnout-color")
                let version = body.trimmingCharacters(in: .whitespacesAndNewlines)
                let expected = expectedVersion(color)
                let ok = response.status == .ok && version == expected
                samples.append(
                  Sample(
                    started: started, color: color, ok: ok,
                    problem: ok ? nil : "HTTP \(response.status.code) \(color ?? "-") '\(version)'")
                )
              } catch {
                samples.append(
                  Sample(started: started, color: nil, ok: false, problem: "\(error)"))
              }
            }
            try? await client.shutdown()
            return samples
          }
        }
        var all: [Sample] = []
        for await part in group { all += part }
        return all
      }
    }

    func color(_ status: AppStatusResponse, _ color: Color) -> SetView? {
      status.sets.first { $0.color == color }
    }

    @Test(
      "8 keep-alive connections through two routers, 24 switches and rollbacks: 0 failures, new color right after each ack, counters equal the client's"
    )
    func switchesUnderLoad() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let agents = [
        cluster.agent("sw1", ports: "29000-29099"), cluster.agent("sw2", ports: "29100-29199"),
      ]
      for agent in agents { try agent.start() }
      let ports = [freePort(), freePort()]
      let routers = [
        cluster.router("edge-1", port: ports[0], previewPort: freePort()),
        cluster.router("edge-2", port: ports[1], previewPort: freePort()),
      ]
      for router in routers { try router.start() }
      defer {
        for router in routers { router.kill(SIGTERM) }
        for agent in agents { agent.kill(SIGTERM) }
        scheduler.kill(SIGTERM)
        ProcessCluster.removeContainers(of: app)
      }
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 2 })
      let host = "\(app).test"
      _ = try await api.apply(ProcessCluster.sampleSpec(app, maxPerNode: 1))
      // A deploy holds the app until its set is ready: blue first, then green.
      _ = try await api.deploy(app, image: nil)
      #expect(
        await eventually(timeout: .seconds(30)) {
          (try? await api.status(app))?.sets.first?.state == .ready
        })
      _ = try await api.deploy(app, image: "turnout-sample:2")
      #expect(
        await eventually(timeout: .seconds(30)) {
          guard let status = try? await api.status(app) else { return false }
          return color(status, .blue)?.state == .ready && color(status, .green)?.state == .ready
        })
      #expect(
        await eventually(timeout: .seconds(10)) {
          guard let routers = try? await api.routers() else { return false }
          return routers.routers.filter { $0.connected && $0.inSync }.count == 2
        })
      let urls = ports.map { "http://127.0.0.1:\($0)" }

      // The gate: no switch before a verification of green's digest passed.
      let unverified = try await cluster.schedctl(["switch", app])
      #expect(unverified.status == 1, "\(unverified.output)")
      #expect(unverified.output.contains("has no passing verification"), "\(unverified.output)")
      let verified = try await cluster.schedctl(["verify", app])
      #expect(verified.status == 0, "\(verified.output)")
      // Each slot directly and through both routers' preview listeners.
      #expect(verified.output.contains("passed: 4 step(s)"), "\(verified.output)")

      // Load and flips run together; the load stops itself after the flips (or a deadline).
      let stop = OnceFlag()
      let deadline = ContinuousClock.now + .seconds(90)
      async let samples = Self.load(
        urls: urls, host: host, connections: 8, stop: stop, deadline: deadline)
      try await Task.sleep(for: .milliseconds(500))
      var flips: [Flip] = []
      var flipError: (any Error)?
      for round in 0..<24 {
        let sent = ContinuousClock.now
        do {
          let result = round % 2 == 0 ? try await api.switchLive(app) : try await api.rollback(app)
          flips.append(Flip(sent: sent, acknowledged: .now, to: result.to.rawValue))
        } catch {
          flipError = error
          break
        }
        try await Task.sleep(for: .milliseconds(150))
      }
      try await Task.sleep(for: .milliseconds(300))
      stop.set()
      let all = await samples
      #expect(flipError == nil, "a switch failed: \(String(describing: flipError))")
      #expect(flips.count == 24)

      let failures = all.filter { !$0.ok }
      let problems = failures.prefix(5).map { $0.problem ?? "" }
      #expect(failures.isEmpty, "\(failures.count) failed: \(problems)")
      #expect(all.count > 200, "only \(all.count) requests")
      // Every request sent after a flip was acknowledged, and before the next was sent, was
      // served by the color that flip made live.
      var wrong = 0
      var checked = 0
      for (index, flip) in flips.enumerated() {
        let end = index + 1 < flips.count ? flips[index + 1].sent : ContinuousClock.now
        for sample in all where sample.started > flip.acknowledged && sample.started < end {
          checked += 1
          if sample.color != flip.to { wrong += 1 }
        }
      }
      #expect(wrong == 0, "\(wrong) of \(checked) requests after an ack came from the old color")
      #expect(checked > 50)
      print(
        "switch e2e: \(all.count) requests over 8 connections, \(flips.count) flips, \(failures.count) failed, \(checked) checked after an ack, \(wrong) from the old color"
      )

      // The routers' counters, summed by the scheduler, equal what the client saw.
      var sent: [String: Int64] = [:]
      for sample in all {
        if let color = sample.color { sent["\(color)/production", default: 0] += 1 }
      }
      // The verification's health check went to green once through each router's preview,
      // and is counted apart from production.
      sent["green/preview", default: 0] += 2
      var reported: [String: Int64] = [:]
      let matched = await eventually(timeout: .seconds(10)) {
        guard let status = try? await api.status(app) else { return false }
        reported = Dictionary(
          uniqueKeysWithValues: status.traffic.map {
            ("\($0.color.rawValue)/\($0.route.rawValue)", $0.requests)
          })
        let ok2xx = status.traffic.allSatisfy { $0[.success] == $0.requests && $0.inFlight == 0 }
        return reported == sent && ok2xx
      }
      #expect(matched, "routers counted \(reported), the client saw \(sent)")
      let epochs = try await api.routers()
      #expect(Set(epochs.routers.map(\.epoch)).count == 1, "routers disagree: \(epochs.routers)")

      // A candidate with an unhealthy slot: the switch is refused, blue serves on without error.
      let status = try await api.status(app)
      #expect(status.app.live == .blue)
      let victim = "turnout-\(app)-green-0"
      try Self.docker(["exec", victim, "rm", "/www/healthz"])
      #expect(
        await eventually(timeout: .seconds(15)) {
          (try? await api.status(app)).flatMap { color($0, .green)?.state } == .degraded
        })
      let stop2 = OnceFlag()
      async let second = Self.load(
        urls: urls, host: host, connections: 8, stop: stop2,
        deadline: ContinuousClock.now + .seconds(30))
      try await Task.sleep(for: .milliseconds(300))
      let refused = try await cluster.schedctl(["switch", app])
      try await Task.sleep(for: .milliseconds(500))
      stop2.set()
      let during = await second
      #expect(refused.status == 1, "\(refused.output)")
      #expect(refused.output.contains("not ready"), "\(refused.output)")
      #expect(during.allSatisfy { $0.ok && $0.color == "blue" })
      #expect(!during.isEmpty)
      #expect(try await api.status(app).app.live == .blue)

    }

    static func docker(_ arguments: [String]) throws {
      guard try ProcessCluster.docker(arguments) == 0 else {
        throw HarnessError("docker \(arguments.joined(separator: " ")) failed")
      }
    }
  }
}
