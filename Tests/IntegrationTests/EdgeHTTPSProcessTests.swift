import ClusterPKI
import Crypto
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// HTTPS at the router with a certificate the operator uploads to the scheduler: served by
  /// the name the client asks for, checked before it is taken (a wrong name or an expired one is
  /// refused and the one in use serves on), and kept by the router so that it serves HTTPS at
  /// once after a restart with the scheduler away. A client that trusts the test CA (curl
  /// --cacert) checks every answer.
  @Suite(
    "HTTPS at the router as processes", .serialized, .timeLimit(.minutes(4)),
    .enabled(if: RuntimeKind.dockerAvailable, "no Docker Engine at /var/run/docker.sock"))
  struct EdgeHTTPSProcessTests {
    let cluster = ProcessCluster("edge-https")
    let app = "hx\(UUID().uuidString.prefix(6).lowercased())"

    var host: String { "\(app).test" }

    /// A certificate for `names` from `authority`, written as PEM files; returns their paths.
    func certificate(
      _ authority: CertificateAuthority, names: [String], file: String, issued: Date = Date(),
      validity: TimeInterval = 3600
    ) throws -> (chain: String, key: String) {
      let key = P256.Signing.PrivateKey()
      let certificate = try authority.issueServer(
        key: key.publicKey, names: names, now: issued, validity: validity)
      let chain = cluster.workDir.appendingPathComponent("\(file).pem").path
      let keyPath = cluster.workDir.appendingPathComponent("\(file).key").path
      try Data(try certificate.pem.utf8).write(to: URL(fileURLWithPath: chain))
      try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: keyPath))
      return (chain, keyPath)
    }

    /// curl over HTTPS to the router, asking for `name`; its exit code and what it printed.
    func curl(_ name: String, port: Int, caFile: String) throws -> (status: Int32, output: String) {
      try runToEnd(
        URL(fileURLWithPath: "/usr/bin/curl"),
        [
          "-sS", "--max-time", "5", "--cacert", caFile, "--resolve", "\(name):\(port):127.0.0.1",
          "https://\(name):\(port)/version",
        ])
    }

    /// Whether curl got the blue set's version page over HTTPS (status 0, body "1").
    func servesVersionOne(_ name: String, port: Int, caFile: String) -> Bool {
      guard let answer = try? curl(name, port: port, caFile: caFile), answer.status == 0 else {
        return false
      }
      return answer.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    @Test(
      "an uploaded certificate is served by name; wrong or expired ones are refused and the old one serves on; a restarted router serves HTTPS with the scheduler away"
    )
    func operatorCertificate() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let agent = cluster.agent("hx1", ports: "29400-29499")
      try agent.start()
      let tlsPort = freePort()
      let plainPort = freePort()
      let stateFile = cluster.workDir.appendingPathComponent("routes-edge-h.json").path
      func router() -> ManagedProcess {
        cluster.router("edge-h", port: plainPort, tlsPort: tlsPort)
      }
      var edge = router()
      try edge.start()
      // A router without an HTTPS listener: it is never sent a key.
      let plainState = cluster.workDir.appendingPathComponent("routes-edge-p.json").path
      let plainRouter = cluster.router("edge-p", port: freePort())
      try plainRouter.start()
      defer {
        plainRouter.kill(SIGTERM)
        edge.kill(SIGTERM)
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
        ProcessCluster.removeContainers(of: app)
      }
      let api = cluster.api
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 1 })
      var spec = ProcessCluster.sampleSpec(app)
      spec.https = HTTPSSettings(redirect: true, hsts: "max-age=600")
      _ = try await api.apply(spec)
      _ = try await api.deploy(app, image: nil)
      #expect(
        await eventually(timeout: .seconds(40)) {
          (try? await api.status(app))?.sets.first?.state == .ready
        })

      let authority = try CertificateAuthority.create(now: Date())
      let caFile = cluster.workDir.appendingPathComponent("edge-ca.pem").path
      try Data(try authority.certificate.pem.utf8).write(to: URL(fileURLWithPath: caFile))
      // Before any certificate: the handshake is refused (curl's 35), not answered wrongly.
      #expect(try curl(host, port: tlsPort, caFile: caFile).status == 35)

      let good = try certificate(authority, names: [host], file: "good")
      let uploaded = try await cluster.schedctl(
        ["cert", "upload", host, "--chain", good.chain, "--key", good.key])
      #expect(uploaded.status == 0, "\(uploaded.output)")
      #expect(
        await eventually(timeout: .seconds(10)) {
          servesVersionOne(host, port: tlsPort, caFile: caFile)
        }, "\(edge.log.suffix(600))")
      // Plain HTTP is sent to HTTPS; HTTPS answers carry HSTS.
      let plain = try runToEnd(
        URL(fileURLWithPath: "/usr/bin/curl"),
        [
          "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
          "-H", "Host: \(host)", "http://127.0.0.1:\(plainPort)/version?x=1",
        ])
      #expect(plain.output == "308 https://\(host):\(tlsPort)/version?x=1", "\(plain.output)")
      // Over HTTP/2 (the answer's HEADERS are made from the parsed head) and HTTP/1.1.
      for version in ["--http2", "--http1.1"] {
        let headers = try runToEnd(
          URL(fileURLWithPath: "/usr/bin/curl"),
          [
            "-sS", "-D", "-", "-o", "/dev/null", "--max-time", "5", version, "--cacert", caFile,
            "--resolve", "\(host):\(tlsPort):127.0.0.1", "https://\(host):\(tlsPort)/version",
          ])
        #expect(
          headers.output.lowercased().contains("strict-transport-security: max-age=600"),
          "\(version): \(headers.output)")
        #expect(
          headers.output.hasPrefix(version == "--http2" ? "HTTP/2 200" : "HTTP/1.1 200"),
          "\(version): \(headers.output)")
      }
      #expect(
        await eventually {
          (try? await api.routers().routers.filter(\.inSync).count) == 2
        })
      let plainFile = (try? String(contentsOfFile: plainState, encoding: .utf8)) ?? ""
      #expect(plainFile.contains(app) && !plainFile.contains("PRIVATE KEY"))
      let listed = try await cluster.schedctl(["cert", "list"])
      #expect(
        listed.output.contains(host) && listed.output.contains("operator"), "\(listed.output)")

      // A certificate for another name, then an expired one: refused, said why, old one serves.
      let other = try certificate(authority, names: ["other.test"], file: "other")
      let wrong = try await cluster.schedctl(
        ["cert", "upload", host, "--chain", other.chain, "--key", other.key])
      #expect(wrong.status != 0)
      #expect(wrong.output.contains("not \(host)"), "\(wrong.output)")
      let old = try certificate(
        authority, names: [host], file: "old", issued: Date().addingTimeInterval(-7200),
        validity: 3600)
      let expired = try await cluster.schedctl(
        ["cert", "upload", host, "--chain", old.chain, "--key", old.key])
      #expect(expired.status != 0)
      #expect(expired.output.contains("expired"), "\(expired.output)")
      let refusals = try await api.events(limit: 500).filter { $0.kind == "certificate.refused" }
      #expect(refusals.count == 2)
      #expect(refusals.allSatisfy { $0.detail.contains("serves on") })
      #expect(servesVersionOne(host, port: tlsPort, caFile: caFile))
      // Another name the router has no certificate for: refused at the handshake.
      #expect(try curl("nope.test", port: tlsPort, caFile: caFile).status == 35)

      // The state file keeps the certificate (0600); a router restarted with the scheduler
      // down serves HTTPS at once.
      let mode = (try FileManager.default.attributesOfItem(atPath: stateFile))[.posixPermissions]
      #expect((mode as? NSNumber)?.intValue == 0o600)
      scheduler.kill(SIGTERM)
      _ = await scheduler.waitForExit(timeout: .seconds(10))
      edge.kill(SIGTERM)
      _ = await edge.waitForExit(timeout: .seconds(10))
      edge = router()
      try edge.start()
      #expect(
        await eventually(timeout: .seconds(10)) {
          servesVersionOne(host, port: tlsPort, caFile: caFile)
        }, "\(edge.log.suffix(600))")
    }
  }
}
