import ClusterPKI
import Crypto
import Foundation
import NIOCore
import NIOSSL
import Synchronization
import X509

/// The scheduler's TLS on the cluster port: its own certificate from the cluster CA (made in
/// memory at start, renewed when two thirds of its life are used), TLS 1.3 only, and a client
/// certificate checked against the CA whenever one is presented (joining nodes have none yet
/// and prove themselves with the join token). Connections take the current context when
/// they open, so a renewal never touches one that is open.
public final class ServerTLS: Sendable {
  public let authority: CertificateAuthority
  private let validity: TimeInterval
  private let current: Mutex<(context: NIOSSLContext, certificate: Certificate)>

  public init(authority: CertificateAuthority, now: Date, validity: TimeInterval)
    throws(TransportError)
  {
    self.authority = authority
    self.validity = validity
    current = Mutex(try Self.make(authority, now: now, validity: validity))
  }

  /// When the scheduler's certificate in use expires.
  public var notAfter: Date { current.withLock { $0.certificate.notValidAfter } }

  /// Issues the scheduler a new certificate when two thirds of the current one's life are
  /// used; true when it did.
  @discardableResult
  public func renewIfDue(now: Date) throws(TransportError) -> Bool {
    let certificate = current.withLock { $0.certificate }
    let total = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore)
    guard now.timeIntervalSince(certificate.notValidBefore) >= total * 2 / 3 else { return false }
    let next = try Self.make(authority, now: now, validity: validity)
    current.withLock { $0 = next }
    return true
  }

  func makeHandler() -> NIOSSLServerHandler {
    NIOSSLServerHandler(context: current.withLock { $0.context })
  }

  private static func make(_ authority: CertificateAuthority, now: Date, validity: TimeInterval)
    throws(TransportError) -> (context: NIOSSLContext, certificate: Certificate)
  {
    do {
      let key = P256.Signing.PrivateKey()
      let certificate = try authority.issueScheduler(
        key: key.publicKey, now: now, validity: validity)
      let root = try NIOSSLCertificate(bytes: try authority.certificate.derBytes, format: .der)
      var configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: [
          .certificate(try NIOSSLCertificate(bytes: try certificate.derBytes, format: .der)),
          .certificate(root),
        ],
        privateKey: .privateKey(
          try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
      configuration.minimumTLSVersion = .tlsv13
      configuration.trustRoots = .certificates([root])
      configuration.certificateVerification = .optionalVerification
      return (try NIOSSLContext(configuration: configuration), certificate)
    } catch {
      throw TransportError(.tls, "cannot set up TLS on the cluster port: \(error)")
    }
  }
}

extension LineConnection {
  /// The certificate the peer presented and TLS verified against the cluster CA (DER), or nil
  /// on a plain connection or one without a client certificate.
  public func peerCertificate() async -> Certificate? {
    let channel = self.channel
    let der: [UInt8]? = try? await channel.eventLoop.submit {
      try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        .peerCertificate?.toDERBytes()
    }.get()
    return der.flatMap { try? Certificate(derEncoded: $0) }
  }
}
