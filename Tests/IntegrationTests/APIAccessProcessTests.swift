import ClusterPKI
import Crypto
import Foundation
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// The API as operators meet it over HTTPS: schedd's certificate from the cluster CA or
  /// from the operator's files, schedctl trusting it with --ca-file, and tokens with roles.
  @Suite("API access as processes", .serialized, .timeLimit(.minutes(3)))
  struct APIAccessProcessTests {
    let cluster = ProcessCluster("api-access", heartbeat: "300ms")

    var https: String { "https://127.0.0.1:\(cluster.apiPort)" }

    @Test("--api-https: schedctl trusts the cluster CA with --ca-file; tokens with roles")
    func clusterCAHTTPS() async throws {
      let scheduler = cluster.schedd(["--api-https", "--api-name", "turnout.test"])
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      let caFile = cluster.workDir.appendingPathComponent("pki/ca.pem").path
      let env = ["TURNOUT_API": https, "TURNOUT_CA_FILE": caFile]
      #expect(
        await eventually { (try? await cluster.schedctl(["nodes"], env: env))?.status == 0 },
        "\(scheduler.log.suffix(800))")

      // Without the CA: told what to pass. Plain HTTP to the HTTPS port: refused too.
      let untrusted = try await cluster.schedctl(["nodes"], env: ["TURNOUT_API": https])
      #expect(untrusted.status != 0)
      #expect(untrusted.output.contains("--ca-file"), "\(untrusted.output)")

      // A deploy token: reads and deploys, cannot list tokens (and is told which role can).
      let made = try await cluster.schedctl(
        ["token", "create", "ci", "--role", "deploy"], env: env)
      #expect(made.status == 0, "\(made.output)")
      let token = try #require(
        made.output.split(separator: "\n").first { $0.hasPrefix("trn-api-") })
      let asCI = env.merging(["TURNOUT_API_TOKEN": String(token)]) { $1 }
      #expect(try await cluster.schedctl(["nodes"], env: asCI).status == 0)
      let listing = try await cluster.schedctl(["token", "ls"], env: asCI)
      #expect(listing.status != 0)
      #expect(listing.output.contains("this needs admin"), "\(listing.output)")
      let all = try await cluster.schedctl(["token", "ls"], env: env)
      #expect(all.output.contains("ci") && all.output.contains("deploy"), "\(all.output)")
      #expect(!all.output.contains(String(token)))

      let revoked = try await cluster.schedctl(["token", "revoke", "ci"], env: env)
      #expect(revoked.status == 0, "\(revoked.output)")
      let refused = try await cluster.schedctl(["nodes"], env: asCI)
      #expect(refused.status != 0)
      #expect(refused.output.contains("bearer token refused"), "\(refused.output)")
      let events = try await cluster.schedctl(["events", "-o", "json"], env: env)
      #expect(events.output.contains("token.revoked"))
      #expect(!events.output.contains(String(token)))
    }

    @Test("--api-cert and --api-key: the operator's certificate, and a bad pair refused at start")
    func operatorCertificate() async throws {
      let other = try CertificateAuthority.create(now: Date())
      let key = P256.Signing.PrivateKey()
      let certificate = try other.issueServer(
        key: key.publicKey, names: ["127.0.0.1"], now: Date(), validity: 3600)
      let dir = cluster.workDir.path
      try Data(try certificate.pem.utf8).write(to: URL(fileURLWithPath: dir + "/api.pem"))
      try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: dir + "/api.key"))
      try Data(try other.certificate.pem.utf8).write(
        to: URL(fileURLWithPath: dir + "/other-ca.pem"))

      // A key that is not the certificate's: schedd says so and exits.
      try Data(P256.Signing.PrivateKey().pemRepresentation.utf8).write(
        to: URL(fileURLWithPath: dir + "/wrong.key"))
      let wrong = cluster.schedd(["--api-cert", dir + "/api.pem", "--api-key", dir + "/wrong.key"])
      try wrong.start()
      let code = await wrong.waitForExit(timeout: .seconds(20))
      #expect(code != nil && code != 0)
      #expect(wrong.log.contains("does not go with the certificate"), "\(wrong.log.suffix(600))")

      let scheduler = cluster.schedd([
        "--api-cert", dir + "/api.pem", "--api-key", dir + "/api.key",
      ])
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      let env = ["TURNOUT_API": https, "TURNOUT_CA_FILE": dir + "/other-ca.pem"]
      #expect(
        await eventually { (try? await cluster.schedctl(["nodes"], env: env))?.status == 0 },
        "\(scheduler.log.suffix(800))")
      // The cluster CA does not vouch for the operator's certificate.
      let clusterCA = cluster.workDir.appendingPathComponent("pki/ca.pem").path
      let mismatched = try await cluster.schedctl(
        ["nodes"], env: ["TURNOUT_API": https, "TURNOUT_CA_FILE": clusterCA])
      #expect(mismatched.status != 0)
    }
  }
}
