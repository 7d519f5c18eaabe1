import ClusterPKI
import Crypto
import Foundation
import Testing

@testable import SchedulerDaemon

/// The API's certificate changes without a restart: the cluster CA's is renewed at two thirds
/// of its life, the operator's files are read again when they change, and a broken file keeps
/// the certificate in use.
@Suite("API HTTPS certificate")
struct APIServerTLSTests {
  @Test("a cluster-CA certificate is renewed at two thirds of its life, not before")
  func renewal() throws {
    let authority = try CertificateAuthority.create(now: Date())
    let start = Date()
    let tls = try APIServerTLS(
      source: .clusterCA(names: ["127.0.0.1", "localhost"]), authority: authority, now: start,
      validity: 900)
    let first = tls.notAfter
    #expect(try tls.refresh(now: start.addingTimeInterval(500)) == nil)
    #expect(try tls.refresh(now: start.addingTimeInterval(700)) != nil)
    #expect(tls.notAfter > first)
  }

  @Test("the operator's files are read again when they change; a broken pair keeps the old one")
  func operatorFiles() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "api-tls-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let certificatePath = directory.appendingPathComponent("api.pem").path
    let keyPath = directory.appendingPathComponent("api.key").path
    let authority = try CertificateAuthority.create(now: Date())
    func write(
      validity: TimeInterval, key: P256.Signing.PrivateKey,
      certifiedKey: P256.Signing.PrivateKey? = nil
    ) throws {
      let certificate = try authority.issueServer(
        key: (certifiedKey ?? key).publicKey, names: ["api.example"], now: Date(),
        validity: validity)
      try Data(try certificate.pem.utf8).write(to: URL(fileURLWithPath: certificatePath))
      try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: keyPath))
    }
    try write(validity: 3600, key: P256.Signing.PrivateKey())
    let tls = try APIServerTLS(
      source: .files(certificate: certificatePath, key: keyPath), authority: nil, now: Date(),
      validity: 0)
    let first = tls.notAfter
    #expect(try tls.refresh(now: Date()) == nil)  // unchanged files: nothing to do

    // Renewed by the operator's tooling (a later modification time).
    Thread.sleep(forTimeInterval: 0.01)
    try write(validity: 7200, key: P256.Signing.PrivateKey())
    #expect(try tls.refresh(now: Date()) != nil)
    #expect(tls.notAfter > first)
    let second = tls.notAfter

    // Half-written: a key that is not the certificate's. Refused, and the last one serves on.
    Thread.sleep(forTimeInterval: 0.01)
    try write(
      validity: 9000, key: P256.Signing.PrivateKey(), certifiedKey: P256.Signing.PrivateKey())
    #expect(throws: SchedulerError.self) { try tls.refresh(now: Date()) }
    #expect(tls.notAfter == second)
  }
}
