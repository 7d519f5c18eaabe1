import ClusterPKI
import Crypto
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// Certificates over ACME from Let's Encrypt's test server (pebble, with pebble-challtestsrv
  /// as its DNS), as processes: one order per name for the cluster, the HTTP-01 token handed to
  /// every router, the certificate served by both, a renewal of a short-lived certificate under
  /// HTTPS keep-alive load, and the faults that must leave the certificate in use serving.
  @Suite(
    "ACME certificates with pebble", .serialized, .timeLimit(.minutes(5)),
    .enabled(
      if: TestEnvironment.has(Pebble.available && RuntimeKind.dockerAvailable),
      "needs /usr/bin/pebble, /usr/bin/pebble-challtestsrv (Debian's pebble) and dockerd"))
  struct ACMEProcessTests {
    let cluster = ProcessCluster("acme")
    let app = "ac\(UUID().uuidString.prefix(6).lowercased())"

    var host: String { "\(app).test" }

    /// `count` GETs of /version over one HTTPS keep-alive connection (curl reuses it), checked
    /// against `caFile`: how many answered 200, and curl's exit code.
    /// `others`: the codes other than 200, with how many of each, for the failure message.
    func httpsBatch(port: Int, caFile: String, count: Int) throws -> (
      ok: Int, status: Int32, others: [Substring: Int]
    ) {
      let url = "https://\(host):\(port)/version"
      let ran = try runToEnd(
        URL(fileURLWithPath: "/usr/bin/curl"),
        [
          "-sS", "--max-time", "20", "--cacert", caFile, "--resolve", "\(host):\(port):127.0.0.1",
          "-o", "/dev/null", "-w", "%{http_code}\\n",
        ] + Array(repeating: url, count: count))
      let codes = ran.output.split(separator: "\n")
      let ok = codes.filter { $0 == "200" }.count
      return (
        ok, ran.status,
        Dictionary(codes.filter { $0 != "200" }.map { ($0, 1) }, uniquingKeysWith: +)
      )
    }

    /// The SHA-256 of the certificate a new handshake for `host` gets, as schedctl shows it.
    func servedFingerprint(port: Int) throws -> String {
      let ran = try runToEnd(
        URL(fileURLWithPath: "/bin/sh"),
        [
          "-c",
          "openssl s_client -connect 127.0.0.1:\(port) -servername \(host) </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256",
        ])
      let hex = ran.output.split(separator: "=").last.map(String.init) ?? ""
      return hex.replacingOccurrences(of: ":", with: "").trimmingCharacters(
        in: .whitespacesAndNewlines
      ).lowercased()
    }

    func events(_ kind: String) async -> [ClusterEvent] {
      ((try? await cluster.api.events(limit: 500)) ?? []).filter {
        $0.kind == kind && $0.subject == host
      }
    }

    @Test(
      "the scheduler obtains a certificate once for two routers, both serve it, and a renewal under HTTPS keep-alive load fails no request"
    )
    func obtainServeRenew() async throws {
      let (plainA, tlsA, plainB, tlsB) = (freePort(), freePort(), freePort(), freePort())
      // The CA checks challenges on router A's plain listener; 30 s certificates renew at 20 s.
      let pebble = try Pebble(in: cluster.workDir, httpPort: plainA, validity: 30)
      try await pebble.start()
      let scheduler = cluster.schedd([
        "--acme-directory", pebble.directoryURL, "--acme-ca-file", pebble.tlsCAFile,
        "--acme-email", "ops@example.test", "--acme-retry", "2s",
      ])
      try scheduler.start()
      let agent = cluster.agent("ac1", ports: "29500-29599")
      try agent.start()
      let edgeA = cluster.router("edge-a", port: plainA, tlsPort: tlsA)
      let edgeB = cluster.router("edge-b", port: plainB, tlsPort: tlsB)
      try edgeA.start()
      try edgeB.start()
      defer {
        for process in [edgeA, edgeB, agent, scheduler] { process.kill(SIGTERM) }
        pebble.stop()
        ProcessCluster.removeContainers(of: app)
      }
      let api = cluster.api
      #expect(await eventually(timeout: .seconds(20)) { (try? await api.nodes().count) == 1 })
      #expect(
        await eventually(timeout: .seconds(10)) {
          (try? await api.routers().routers.filter(\.connected).count) == 2
        })
      var spec = ProcessCluster.sampleSpec(app)
      spec.https = HTTPSSettings(acme: true)
      _ = try await api.apply(spec)
      _ = try await api.deploy(app, image: nil)
      #expect(
        await eventually(timeout: .seconds(40)) {
          (try? await api.status(app))?.sets.first?.state == .ready
        })

      #expect(
        await eventually(timeout: .seconds(60)) { await !events("certificate.issued").isEmpty },
        "\(scheduler.log.suffix(1500))")
      let root = try pebble.issuingRoot()
      // Both routers serve it, checked against pebble's root.
      for port in [tlsA, tlsB] {
        let batch = try httpsBatch(port: port, caFile: root, count: 3)
        #expect(batch.status == 0 && batch.ok == 3, "port \(port): \(batch)")
      }
      // Both were handed the token before the CA looked (the CA reached only A).
      for edge in [edgeA, edgeB] {
        #expect(edge.log.contains("ACME challenges held"), "\(edge.name): \(edge.log.suffix(600))")
      }
      let issued = try await api.certificate(host)
      #expect(issued.source == "acme")
      #expect(issued.issuer.contains("Pebble"), "\(issued.issuer)")
      let listed = try await cluster.schedctl(["cert", "list"])
      #expect(listed.output.contains(host) && listed.output.contains("renews"), "\(listed.output)")

      // Keep-alive load over HTTPS on router B while the certificate renews by itself.
      var ok = 0
      var failedBatches: [String] = []
      let deadline = ContinuousClock.now + .seconds(90)
      var renewedAt: ContinuousClock.Instant?
      while ContinuousClock.now < deadline {
        let batch = try httpsBatch(port: tlsB, caFile: root, count: 40)
        ok += batch.ok
        if batch.status != 0 || batch.ok != 40 { failedBatches.append("\(batch)") }
        if renewedAt == nil, await !events("certificate.renewed").isEmpty {
          renewedAt = .now
        }
        // Two more batches after the renewal: new handshakes get the new certificate.
        if let renewedAt, ContinuousClock.now - renewedAt > .seconds(2) { break }
      }
      #expect(renewedAt != nil, "no renewal: \(scheduler.log.suffix(1500))")
      #expect(failedBatches.isEmpty, "\(failedBatches)")
      #expect(ok >= 80)
      let renewed = try await api.certificate(host)
      #expect(renewed.fingerprint != issued.fingerprint)
      #expect(renewed.notAfter > issued.notAfter)
      for port in [tlsA, tlsB] {
        #expect(
          await eventually(timeout: .seconds(5)) {
            (try? servedFingerprint(port: port)) == renewed.fingerprint
          }, "port \(port)")
      }
    }

    @Test(
      "a router that misses the token, a challenge the CA cannot reach, the CA down: each an event that says why, and the certificate in use serves on"
    )
    func faultsKeepTheCertificateServing() async throws {
      // The CA checks challenges on a router that is not connected to this scheduler: it
      // never holds a token.
      let orphanPlain = freePort()
      let orphan = cluster.router("orphan", port: orphanPlain, schedulerPort: freePort())
      try orphan.start()
      let pebble = try Pebble(in: cluster.workDir, httpPort: orphanPlain)
      try await pebble.start()
      let scheduler = cluster.schedd([
        "--acme-directory", pebble.directoryURL, "--acme-ca-file", pebble.tlsCAFile,
        "--acme-retry", "600s",
      ])
      try scheduler.start()
      let tlsPort = freePort()
      let edge = cluster.router("edge", port: freePort(), tlsPort: tlsPort)
      try edge.start()
      defer {
        for process in [edge, orphan, scheduler] { process.kill(SIGTERM) }
        pebble.stop()
      }
      let api = cluster.api
      #expect(
        await eventually(timeout: .seconds(10)) {
          (try? await api.routers().routers.filter(\.connected).count) == 1
        })
      var spec = ProcessCluster.sampleSpec(app)
      spec.https = HTTPSSettings(acme: true)
      _ = try await api.apply(spec)

      // The first order fails at once: the CA got a 404 from the router that lacks the token.
      #expect(
        await eventually(timeout: .seconds(30)) { await !events("certificate.failed").isEmpty },
        "\(scheduler.log.suffix(1500))")
      let first = try #require(await events("certificate.failed").first)
      #expect(first.detail.contains("404"), "\(first.detail)")
      #expect(first.detail.contains("no certificate serves"), "\(first.detail)")
      let listed = try await cluster.schedctl(["cert", "list"])
      #expect(listed.output.contains("failing"), "\(listed.output)")

      // The operator's certificate serves meanwhile; every failed order leaves it serving.
      let authority = try ClusterPKITestCA()
      let files = try authority.files(for: host, in: cluster.workDir)
      let uploaded = try await cluster.schedctl(
        ["cert", "upload", host, "--chain", files.chain, "--key", files.key])
      #expect(uploaded.status == 0, "\(uploaded.output)")
      func servesOperatorCertificate() -> Bool {
        let ran = try? runToEnd(
          URL(fileURLWithPath: "/usr/bin/curl"),
          [
            "-sS", "--max-time", "5", "--cacert", files.ca, "--resolve",
            "\(host):\(tlsPort):127.0.0.1", "-o", "/dev/null", "-w", "%{http_code}",
            "https://\(host):\(tlsPort)/",
          ])
        return ran?.status == 0
      }
      #expect(await eventually(timeout: .seconds(10)) { servesOperatorCertificate() })

      let missing = try await cluster.schedctl(["cert", "renew", host])
      #expect(missing.status != 0)
      #expect(
        missing.output.contains("404") && missing.output.contains("serves on"), "\(missing.output)")

      // The CA cannot reach the name at all.
      try pebble.resolve(host, to: "127.0.0.9")
      let unreachable = try await cluster.schedctl(["cert", "renew", host])
      #expect(unreachable.status != 0)
      #expect(
        unreachable.output.lowercased().contains("connection refused")
          || unreachable.output.contains("127.0.0.9"), "\(unreachable.output)")

      // The CA itself is down.
      pebble.stop()
      let down = try await cluster.schedctl(["cert", "renew", host])
      #expect(down.status != 0)
      #expect(down.output.contains("cannot reach the ACME CA"), "\(down.output)")

      let failures = await events("certificate.failed")
      #expect(failures.count >= 4, "\(failures.map(\.detail))")
      #expect(failures.filter { $0.detail.contains("operator certificate") }.count >= 3)
      #expect(servesOperatorCertificate())
      #expect(try await api.certificate(host).source == "operator")
    }
  }
}

/// A test CA and one certificate from it for a name, as PEM files (chain, key, CA).
struct ClusterPKITestCA {
  let authority: CertificateAuthority

  init() throws { authority = try CertificateAuthority.create(now: Date()) }

  func files(for name: String, in directory: URL) throws -> (chain: String, key: String, ca: String)
  {
    let key = P256.Signing.PrivateKey()
    let certificate = try authority.issueServer(
      key: key.publicKey, names: [name], now: Date(), validity: 3600)
    let paths = ["chain", "key", "ca"].map {
      directory.appendingPathComponent("op-\(name).\($0)").path
    }
    try Data(try certificate.pem.utf8).write(to: URL(fileURLWithPath: paths[0]))
    try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: paths[1]))
    try Data(try authority.certificate.pem.utf8).write(to: URL(fileURLWithPath: paths[2]))
    return (paths[0], paths[1], paths[2])
  }
}
