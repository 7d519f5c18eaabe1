import ClusterPKI
import Crypto
import Foundation
import NIOCore
import NIOSSL
import Synchronization
import X509

/// HTTPS on the API port: the certificate in use, swapped without a restart (a cluster-CA
/// certificate renewed at two thirds of its life, the operator's files read again when they
/// change). Each handshake picks the current certificate, so open connections keep theirs.
final class APIServerTLS: Sendable {
  let source: APITLSSource
  private let authority: CertificateAuthority?
  private let validity: TimeInterval
  private let current: Mutex<Loaded>

  struct Loaded: Sendable {
    var chain: [NIOSSLCertificate]
    var key: NIOSSLPrivateKey
    var notBefore: Date
    var notAfter: Date
    /// The files' modification times when they were read (operator files only).
    var stamp: [Date?] = []
  }

  init(
    source: APITLSSource, authority: CertificateAuthority?, now: Date, validity: TimeInterval
  ) throws(SchedulerError) {
    self.source = source
    self.authority = authority
    self.validity = validity
    current = Mutex(try Self.load(source, authority: authority, now: now, validity: validity))
  }

  /// What the API's TLS listener is built with: TLS 1.2 and up, the certificate chosen per
  /// handshake from `current`.
  func configuration() -> TLSConfiguration {
    let loaded = current.withLock { $0 }
    var configuration = TLSConfiguration.makeServerConfiguration(
      certificateChain: loaded.chain.map { .certificate($0) }, privateKey: .privateKey(loaded.key))
    configuration.minimumTLSVersion = .tlsv12
    configuration.applicationProtocols = ["http/1.1"]
    configuration.sslContextCallback = { [self] _, promise in
      let now = current.withLock { $0 }
      var override = NIOSSLContextConfigurationOverride()
      override.certificateChain = now.chain.map { .certificate($0) }
      override.privateKey = .privateKey(now.key)
      promise.succeed(override)
    }
    return configuration
  }

  var notAfter: Date { current.withLock { $0.notAfter } }

  /// Renews a cluster-CA certificate at two thirds of its life, or reads the operator's files
  /// again when they changed; returns what it did, or nil. A file that does not read keeps
  /// the certificate in use (and the error says why).
  func refresh(now: Date) throws(SchedulerError) -> String? {
    let loaded = current.withLock { $0 }
    switch source {
    case .clusterCA:
      let total = loaded.notAfter.timeIntervalSince(loaded.notBefore)
      guard now.timeIntervalSince(loaded.notBefore) >= total * 2 / 3 else { return nil }
      let next = try Self.load(source, authority: authority, now: now, validity: validity)
      current.withLock { $0 = next }
      return "renewed the API's certificate from the cluster CA"
    case .files(let certificate, let key):
      guard Self.stamp([certificate, key]) != loaded.stamp else { return nil }
      let next = try Self.load(source, authority: authority, now: now, validity: validity)
      current.withLock { $0 = next }
      return "read the API's certificate again from \(certificate)"
    }
  }

  private static func stamp(_ paths: [String]) -> [Date?] {
    paths.map {
      (try? FileManager.default.attributesOfItem(atPath: $0))?[.modificationDate] as? Date
    }
  }

  private static func load(
    _ source: APITLSSource, authority: CertificateAuthority?, now: Date, validity: TimeInterval
  ) throws(SchedulerError) -> Loaded {
    switch source {
    case .clusterCA(let names):
      guard let authority else {
        throw SchedulerError(
          .config,
          "--api-https uses the cluster CA, which an --insecure-cluster scheduler does not have; give --api-cert and --api-key instead"
        )
      }
      do {
        let key = P256.Signing.PrivateKey()
        let certificate = try authority.issueServer(
          key: key.publicKey, names: names, now: now, validity: validity)
        return Loaded(
          chain: [
            try NIOSSLCertificate(bytes: try certificate.derBytes, format: .der),
            try NIOSSLCertificate(bytes: try authority.certificate.derBytes, format: .der),
          ],
          key: try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem),
          notBefore: certificate.notValidBefore, notAfter: certificate.notValidAfter)
      } catch let error as PKIError {
        throw SchedulerError(.config, "cannot issue the API's certificate: \(error.message)")
      } catch {
        throw SchedulerError(.config, "cannot issue the API's certificate: \(error)")
      }
    case .files(let certificatePath, let keyPath):
      let stamp = Self.stamp([certificatePath, keyPath])
      let chain: [NIOSSLCertificate]
      let key: NIOSSLPrivateKey
      do { chain = try NIOSSLCertificate.fromPEMFile(certificatePath) } catch {
        throw SchedulerError(
          .config,
          "cannot read the API certificate \(certificatePath) (PEM, the server's certificate first, then its chain): \(error)"
        )
      }
      do { key = try NIOSSLPrivateKey(file: keyPath, format: .pem) } catch {
        throw SchedulerError(
          .config, "cannot read the API key \(keyPath) (an unencrypted PEM key): \(error)")
      }
      guard let leaf = chain.first else {
        throw SchedulerError(.config, "\(certificatePath) holds no certificate")
      }
      guard let parsed = try? Certificate(derEncoded: try leaf.toDERBytes()) else {
        throw SchedulerError(.config, "cannot parse the first certificate in \(certificatePath)")
      }
      // A context is made only when the key belongs to the certificate.
      do {
        _ = try NIOSSLContext(
          configuration: .makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
      } catch {
        throw SchedulerError(
          .config,
          "the key in \(keyPath) does not go with the certificate in \(certificatePath): \(error)")
      }
      return Loaded(
        chain: chain, key: key, notBefore: parsed.notValidBefore, notAfter: parsed.notValidAfter,
        stamp: stamp)
    }
  }
}
