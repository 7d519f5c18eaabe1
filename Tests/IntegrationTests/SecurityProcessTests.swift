import ClusterPKI
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import SchedWire
import Testing
import WireTransport

extension ProcessSuites {
  /// TLS on the cluster port as operators meet it: the CA a fresh scheduler makes, the token
  /// `schedctl node join-command` prints, a node's own certificate, and what is refused.
  @Suite("Cluster security as processes", .serialized, .timeLimit(.minutes(3)))
  struct SecurityProcessTests {
    let cluster = ProcessCluster("security", heartbeat: "300ms")

    /// Agent n1 without a runtime, its state (credentials included) in `state`.
    func agentN1(token: String?, state: String) -> ManagedProcess {
      ManagedProcess(
        "agent-n1",
        [
          "--scheduler", "127.0.0.1:\(cluster.clusterPort)", "--name", "n1",
          "--runtime", "none", "--max-backoff", "300ms",
        ] + (token.map { ["--token", $0] } ?? []),
        logDirectory: cluster.workDir, environment: ["TURNOUT_STATE_DIR": state])
    }

    static func mode(_ path: String) -> Int? {
      (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions]
        .flatMap { ($0 as? NSNumber)?.intValue }
    }

    @Test(
      "a fresh scheduler makes its CA; the join command's token joins a node over TLS, which comes back on its own certificate without the token"
    )
    func joinWithPrintedToken() async throws {
      // This scheduler makes its own CA (the harness's is removed).
      let pki = cluster.workDir.appendingPathComponent("pki").path
      try FileManager.default.removeItem(atPath: pki)
      let scheduler = cluster.schedd(["--advertise-cluster", "127.0.0.1:\(cluster.clusterPort)"])
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      #expect(await eventually { (try? await cluster.api.nodes()) != nil })
      #expect(Self.mode(pki + "/ca.key") == 0o600)
      #expect(Self.mode(pki) == 0o700)

      let printed = try await cluster.schedctl(["node", "join-command", "-o", "json"])
      #expect(printed.status == 0, "\(printed.output)")
      let info = try JSONDecoder().decode(JoinInfo.self, from: Data(printed.output.utf8))
      let token = try JoinToken.parse(info.token)
      #expect(token.secret == ProcessCluster.joinToken)
      let made = try PKIFiles.authority(in: pki, now: Date())
      #expect(!made.created && token.caFingerprint == made.authority.fingerprint)

      let state = cluster.workDir.appendingPathComponent("n1-state").path
      func agent(token: String?) -> ManagedProcess { agentN1(token: token, state: state) }
      let joining = agent(token: info.token)
      try joining.start()
      #expect(await eventually { (try? await cluster.api.nodes())?.first?.state == .ready })
      #expect(joining.log.contains("joined: this node's certificate is kept"))
      #expect(Self.mode(state + "/tls/node.key") == 0o600)
      let credentials = try #require(try NodeCredentials.load(from: state + "/tls"))
      #expect(credentials.identity.name == "n1" && credentials.identity.role == .agent)
      joining.kill(SIGTERM)
      #expect(await eventually { (try? await cluster.api.nodes())?.first?.state == .down })

      // Back without any token: its certificate is its proof.
      let again = agent(token: nil)
      try again.start()
      defer { again.kill(SIGTERM) }
      #expect(
        await eventually { (try? await cluster.api.nodes())?.first?.state == .ready },
        "\(again.log.suffix(800))")
      #expect(!again.log.contains("joined:"))
      let events = try await cluster.api.events(limit: 50).map(\.kind)
      #expect(events.filter { $0 == "certificate.issued" }.count == 1)
    }

    @Test("a node's certificate cannot speak for another node, and the port refuses plain text")
    func certificateNamesItsNode() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      let n1 = cluster.agent("n1", ports: "26000-26009", extra: ["--runtime", "none"])
      try n1.start()
      defer { n1.kill(SIGTERM) }
      #expect(await eventually { (try? await cluster.api.nodes())?.first?.state == .ready })
      let state = try #require(
        try FileManager.default.contentsOfDirectory(atPath: cluster.workDir.path)
          .first { $0.hasPrefix("agent-n1-state") })
      let credentials = try #require(
        try NodeCredentials.load(
          from: cluster.workDir.appendingPathComponent(state).appendingPathComponent("tls").path))

      // n1's certificate with a hello naming n2: refused, and no n2 appears.
      func hello(as node: NodeID) async throws -> ErrorReply? {
        try await LineClient.withConnection(
          host: "127.0.0.1", port: cluster.clusterPort, maxLineBytes: 1 << 16,
          tls: ClientTLS(trust: .authority(credentials.authority), credentials: credentials)
        ) { connection in
          try await connection.send(
            Frame(
              id: "hello",
              .hello(
                Hello(role: .agent, versions: ProtocolVersion.supported, node: node, token: ""))))
          for try await frame in connection.inbound {
            guard case .line(let bytes) = frame else { continue }
            let answer = try LineCodec.decode(bytes.readableBytesView).get()
            if case .error(let reply) = answer.message { return reply }
            return nil
          }
          return nil
        }
      }
      let refused = try #require(try await hello(as: "n2"))
      #expect(refused.code == .unauthorized)
      #expect(refused.message.contains("cannot speak for 'n2'"), "\(refused.message)")
      #expect(try await cluster.api.nodes().map(\.name) == ["n1"])
      // The same certificate naming its own node is welcomed (no error).
      #expect(try await hello(as: "n1") == nil)

      // Plain text (an agent started with --insecure-cluster) is told what to do.
      let plain = cluster.agent(
        "n3", token: ProcessCluster.joinToken, ports: "26010-26019",
        extra: ["--runtime", "none", "--insecure-cluster"])
      try plain.start()
      defer { plain.kill(SIGTERM) }
      #expect(
        await eventually { plain.log.contains("this cluster port speaks TLS") },
        "\(plain.log.suffix(800))")
      #expect(try await cluster.api.nodes().map(\.name) == ["n1"])
    }

    @Test("certificates are renewed at two thirds of their life while the session goes on")
    func renewalWithoutReconnecting() async throws {
      let scheduler = cluster.schedd(["--cert-validity", "12s"])
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      let state = cluster.workDir.appendingPathComponent("n1-state").path
      let first = agentN1(token: cluster.token(ProcessCluster.joinToken), state: state)
      try first.start()
      #expect(await eventually { (try? await cluster.api.nodes())?.first?.state == .ready })
      let generation = try #require(try await cluster.api.nodes().first?.generation)
      let joined = try #require(try NodeCredentials.load(from: state + "/tls")).identity
      // 12 s certificates (back-dated 1.2 s): due after 7.6 s, checked every second.
      let renewed = await eventually(timeout: .seconds(20)) {
        (try? NodeCredentials.load(from: state + "/tls"))??.identity.serial != joined.serial
      }
      #expect(renewed, "\(first.log.suffix(800))")
      #expect(first.log.contains("renewed this agent's certificate"))
      // The session went on: same registration, never down.
      let node = try #require(try await cluster.api.nodes().first)
      #expect(node.generation == generation && node.state == .ready)
      let kinds = try await cluster.api.events(limit: 100).map(\.kind)
      #expect(kinds.filter { $0 == "certificate.issued" }.count >= 2)
      #expect(!kinds.contains("node.down"))
      // The next connection presents the new certificate (no token given).
      first.kill(SIGTERM)
      let again = agentN1(token: nil, state: state)
      try again.start()
      defer { again.kill(SIGTERM) }
      #expect(
        await eventually {
          (try? await cluster.api.nodes())?.first.map { $0.generation > generation } == true
        }, "\(again.log.suffix(800))")
    }

    @Test("a rotated join token: the old one joins nothing, joined nodes go on, a restart keeps it")
    func tokenRotation() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let n1 = cluster.agent("n1", ports: "26100-26109", extra: ["--runtime", "none"])
      try n1.start()
      defer { n1.kill(SIGTERM) }
      #expect(await eventually { (try? await cluster.api.nodes())?.first?.state == .ready })
      let generation = try #require(try await cluster.api.nodes().first?.generation)

      let rotated = try await cluster.schedctl(["token", "rotate", "join"])
      #expect(rotated.status == 0, "\(rotated.output)")
      let token = try #require(
        rotated.output.split(separator: "\n").first { $0.hasPrefix("TRN-1-") }.map(String.init))
      #expect(try JoinToken.parse(token).caFingerprint == cluster.caFingerprint)
      #expect(try JoinToken.parse(token).secret != ProcessCluster.joinToken)

      // The old token: refused. The new one: joins.
      let stale = cluster.agent("n2", ports: "26110-26119", extra: ["--runtime", "none"])
      try stale.start()
      #expect(await stale.waitForExit(timeout: .seconds(10)) == 77, "\(stale.log.suffix(600))")
      #expect(stale.log.contains("join token refused"))
      let fresh = ManagedProcess(
        "agent-n3",
        [
          "--scheduler", "127.0.0.1:\(cluster.clusterPort)", "--token", token, "--name", "n3",
          "--runtime", "none", "--max-backoff", "300ms",
        ], logDirectory: cluster.workDir)
      try fresh.start()
      defer { fresh.kill(SIGTERM) }
      #expect(
        await eventually { (try? await cluster.api.nodes())?.map(\.name) == ["n1", "n3"] },
        "\(fresh.log.suffix(600))")
      // n1 was not disturbed: the same registration.
      let n1View = try #require(try await cluster.api.nodes().first { $0.name == "n1" })
      #expect(n1View.generation == generation && n1View.state == .ready)

      // A restart with the old secret in its environment keeps the rotated token.
      scheduler.kill(SIGTERM)
      let again = cluster.schedd()
      try again.start()
      defer { again.kill(SIGTERM) }
      #expect(await eventually { (try? await cluster.api.nodes()) != nil })
      let shown = try await cluster.schedctl(["node", "join-token"])
      #expect(shown.output.trimmingCharacters(in: .whitespacesAndNewlines) == token)
      #expect(again.log.contains("join token was rotated"))
      let kinds = try await cluster.api.events(limit: 100).map(\.kind)
      #expect(kinds.contains("token.rotated"))
    }

    @Test("a removed node cannot connect again, with its certificate or its old token")
    func removedNodeIsRevoked() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      let state = cluster.workDir.appendingPathComponent("n1-state").path
      let joined = agentN1(token: cluster.token(ProcessCluster.joinToken), state: state)
      try joined.start()
      #expect(await eventually { (try? await cluster.api.nodes())?.first?.state == .ready })

      // Connected: refused, and told what to do.
      let early = try await cluster.schedctl(["node", "remove", "n1"])
      #expect(early.status != 0)
      #expect(early.output.contains("stop its agent first"), "\(early.output)")

      joined.kill(SIGTERM)
      #expect(await eventually { (try? await cluster.api.nodes())?.first?.state == .down })
      let removed = try await cluster.schedctl(["node", "remove", "n1"])
      #expect(removed.status == 0, "\(removed.output)")
      #expect(removed.output.contains("1 certificate(s) revoked"), "\(removed.output)")
      #expect(try await cluster.api.nodes().isEmpty)

      // Its certificate is still on disk (and the token still given): refused, for good.
      let back = agentN1(token: cluster.token(ProcessCluster.joinToken), state: state)
      try back.start()
      let code = await back.waitForExit(timeout: .seconds(10))
      #expect(code == 77, "\(back.log.suffix(800))")
      #expect(back.log.contains("was removed from the cluster"), "\(back.log.suffix(800))")
      #expect(try await cluster.api.nodes().isEmpty)
      let kinds = try await cluster.api.events(limit: 50).map(\.kind)
      #expect(kinds.contains("node.removed"))
    }
  }
}
