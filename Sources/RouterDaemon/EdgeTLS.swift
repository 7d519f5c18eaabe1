import ClusterPKI
import Crypto
import Foundation
import Logging
import NIOCore
import NIOSSL
import SchedModel
import SchedWire
import Synchronization

/// The router's HTTPS: the certificates the scheduler sent, by host name, and the one TLS
/// context every connection of the TLS listener shares. Each handshake picks its certificate
/// by the name the client asked for (SNI) when it arrives, so a new set takes effect for the
/// next handshake and never touches a connection that is open.
final class EdgeTLS: Sendable {
  let certificates: EdgeCertificateTable
  let context: NIOSSLContext

  init(logger: Logger) throws(RouterError) {
    let certificates = EdgeCertificateTable(logger: logger)
    self.certificates = certificates
    // The base configuration needs a certificate; a handshake never uses it: the callback
    // below serves the host's own or refuses the handshake.
    let placeholder = P256.Signing.PrivateKey()
    do {
      let authority = try CertificateAuthority.create(now: Date(), validity: 86400)
      let certificate = try authority.issueServer(
        key: placeholder.publicKey, names: ["turnout-router.invalid"], now: Date(),
        validity: 86400)
      var configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: [
          .certificate(try NIOSSLCertificate(bytes: try certificate.derBytes, format: .der))
        ],
        privateKey: .privateKey(
          try NIOSSLPrivateKey(bytes: Array(placeholder.pemRepresentation.utf8), format: .pem)))
      configuration.minimumTLSVersion = .tlsv12
      // HTTP/2 when the client offers it, HTTP/1.1 otherwise (and for WebSockets).
      configuration.applicationProtocols = ["h2", "http/1.1"]
      configuration.sslContextCallback = Self.callback(certificates)
      context = try NIOSSLContext(configuration: configuration)
    } catch {
      throw RouterError(.bind, "cannot set up TLS for the HTTPS listener: \(error)")
    }
  }

  /// The configuration's callback: the certificate for the SNI name, or a refused handshake.
  static func callback(_ tls: EdgeCertificateTable) -> NIOSSLContextCallback {
    { values, promise in
      guard let name = values.serverHostname, let loaded = tls.loaded(for: name) else {
        promise.fail(
          RouterError(.tls, "no certificate for \(values.serverHostname ?? "a client without SNI")")
        )
        return
      }
      var override = NIOSSLContextConfigurationOverride()
      override.certificateChain = loaded.chain.map { .certificate($0) }
      override.privateKey = .privateKey(loaded.key)
      promise.succeed(override)
    }
  }
}

/// The certificates the scheduler sent, by name, with one owner: the control session installs
/// a newer set, every handshake reads.
final class EdgeCertificateTable: Sendable {
  struct Loaded: Sendable {
    var certificate: EdgeCertificate
    var chain: [NIOSSLCertificate]
    var key: NIOSSLPrivateKey
  }

  private let table = Mutex<(version: Int64, byName: [String: Loaded])>((0, [:]))
  let logger: Logger

  init(logger: Logger) { self.logger = logger }

  func loaded(for host: String) -> Loaded? {
    let byName = table.withLock { $0.byName }
    guard let certificate = EdgeCertificate.choose(host, in: byName.mapValues(\.certificate))
    else { return nil }
    return byName[certificate.name]
  }

  var version: Int64 { table.withLock { $0.version } }

  /// The certificates in use, as the state file keeps them.
  var current: EdgeCertificates {
    table.withLock {
      EdgeCertificates(
        version: $0.version,
        certificates: $0.byName.values.map(\.certificate).sorted { $0.name < $1.name })
    }
  }

  /// Takes `set` when it is newer than the one in use; a certificate that does not read is
  /// left out (and logged), the others are served. Returns whether it took the set.
  @discardableResult
  func install(_ set: EdgeCertificates) -> Bool {
    var next: [String: Loaded] = [:]
    for certificate in set.certificates {
      do {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.chain.utf8))
        let key = try NIOSSLPrivateKey(bytes: Array(certificate.key.utf8), format: .pem)
        next[certificate.name] = Loaded(certificate: certificate, chain: chain, key: key)
      } catch {
        logger.error(
          "a certificate the scheduler sent does not read; that name is not served over HTTPS",
          metadata: ["name": "\(certificate.name)", "error": "\(error)"])
      }
    }
    return table.withLock { table in
      guard set.version > table.version else { return false }
      table = (set.version, next)
      return true
    }
  }
}
