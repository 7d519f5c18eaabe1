import ClusterPKI
import Crypto
import Foundation
import SchedTestSupport

/// Let's Encrypt's ACME test server (Debian's `pebble`) on 127.0.0.1, with
/// `pebble-challtestsrv` as its DNS: every name resolves to 127.0.0.1 unless a test says
/// otherwise, and the CA checks HTTP-01 challenges on `httpPort` (a router's plain listener).
/// Its own HTTPS certificate comes from a test CA written to `tlsCAFile` (what schedd's
/// --acme-ca-file trusts); the roots it issues under are fetched with `issuingRoot()`.
struct Pebble {
  static let available =
    FileManager.default.isExecutableFile(atPath: "/usr/bin/pebble")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/pebble-challtestsrv")

  let directory: URL
  let port = freePort()
  let managementPort = freePort()
  let dnsPort = freePort()
  let dnsManagementPort = freePort()
  let tlsCAFile: String
  let pebble: ManagedProcess
  let dns: ManagedProcess

  var directoryURL: String { "https://127.0.0.1:\(port)/dir" }

  /// Writes the config and certificates; `validity`: seconds each issued certificate lives.
  init(in directory: URL, httpPort: Int, validity: Int = 3600, name: String = "pebble") throws {
    self.directory = directory
    let authority = try CertificateAuthority.create(now: Date())
    let key = P256.Signing.PrivateKey()
    let certificate = try authority.issueServer(
      key: key.publicKey, names: ["localhost", "127.0.0.1"], now: Date(), validity: 86400)
    let certPath = directory.appendingPathComponent("\(name)-tls.pem").path
    let keyPath = directory.appendingPathComponent("\(name)-tls.key").path
    tlsCAFile = directory.appendingPathComponent("\(name)-tls-ca.pem").path
    try Data(try certificate.pem.utf8).write(to: URL(fileURLWithPath: certPath))
    try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: keyPath))
    try Data(try authority.certificate.pem.utf8).write(to: URL(fileURLWithPath: tlsCAFile))
    let config: [String: Any] = [
      "pebble": [
        "listenAddress": "127.0.0.1:\(port)",
        "managementListenAddress": "127.0.0.1:\(managementPort)",
        "certificate": certPath, "privateKey": keyPath,
        "httpPort": httpPort, "tlsPort": freePort(),
        "ocspResponderURL": "", "externalAccountBindingRequired": false,
        "certificateValidityPeriod": validity,
      ]
    ]
    let configPath = directory.appendingPathComponent("\(name)-config.json")
    try JSONSerialization.data(withJSONObject: config).write(to: configPath)
    dns = ManagedProcess(
      "\(name)-dns",
      [
        "-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "", "-tlsalpn01", "",
        "-management", "127.0.0.1:\(dnsManagementPort)", "-defaultIPv4", "127.0.0.1",
        "-defaultIPv6", "",
      ], logDirectory: directory, program: "/usr/bin/pebble-challtestsrv")
    pebble = ManagedProcess(
      name, ["-config", configPath.path, "-dnsserver", "127.0.0.1:\(dnsPort)"],
      logDirectory: directory, environment: ["PEBBLE_VA_NOSLEEP": "1"],
      program: "/usr/bin/pebble")
  }

  /// Starts both and waits for the directory to answer.
  func start() async throws {
    try dns.start()
    try pebble.start()
    let ready = await eventually(timeout: .seconds(15)) {
      (try? runToEnd(
        URL(fileURLWithPath: "/usr/bin/curl"),
        ["-sf", "--max-time", "2", "--cacert", tlsCAFile, directoryURL]))?.status == 0
    }
    guard ready else { throw HarnessError("pebble did not start: \(pebble.log.suffix(800))") }
  }

  func stop() {
    pebble.kill(SIGTERM)
    dns.kill(SIGTERM)
  }

  /// The root pebble issues under (PEM), written to a file for `curl --cacert`.
  func issuingRoot() throws -> String {
    let path = directory.appendingPathComponent("pebble-root-\(port).pem").path
    let fetched = try runToEnd(
      URL(fileURLWithPath: "/usr/bin/curl"),
      [
        "-sfS", "--max-time", "5", "--cacert", tlsCAFile, "-o", path,
        "https://127.0.0.1:\(managementPort)/roots/0",
      ])
    guard fetched.status == 0 else { throw HarnessError("no pebble root: \(fetched.output)") }
    return path
  }

  /// Makes the DNS answer `address` for `host` (a name the CA then cannot reach, say).
  func resolve(_ host: String, to address: String) throws {
    let body = #"{"host":"\#(host)","addresses":["\#(address)"]}"#
    let set = try runToEnd(
      URL(fileURLWithPath: "/usr/bin/curl"),
      [
        "-sfS", "--max-time", "5", "-X", "POST", "-d", body,
        "http://127.0.0.1:\(dnsManagementPort)/add-a",
      ])
    guard set.status == 0 else { throw HarnessError("challtestsrv add-a: \(set.output)") }
  }
}
