import ClusterPKI
import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization
import X509

/// An agent's or router's TLS to the scheduler: TLS 1.3, the scheduler's certificate checked
/// against the cluster CA (the one the node keeps, or while it joins, the one whose fingerprint
/// its join token carries, found in the chain the scheduler sends), and the node's own
/// certificate presented once it has one.
public struct ClientTLS: Sendable {
  /// What the scheduler's certificate must chain to.
  public enum Trust: Sendable {
    /// The CA whose SHA-256 fingerprint a join token carries.
    case pinned(String)
    case authority(Certificate)
  }

  public var trust: Trust
  public var credentials: NodeCredentials?

  public init(trust: Trust, credentials: NodeCredentials? = nil) {
    self.trust = trust
    self.credentials = credentials
  }

  /// A handler for one connection; a refusal's reason goes to `failure`.
  func makeHandler(failure: TLSFailure) throws(TransportError) -> NIOSSLClientHandler {
    do {
      var configuration = TLSConfiguration.makeClientConfiguration()
      configuration.minimumTLSVersion = .tlsv13
      configuration.trustRoots = .certificates([])
      configuration.certificateVerification = .noHostnameVerification
      if let credentials {
        configuration.certificateChain = [
          .certificate(
            try NIOSSLCertificate(bytes: try credentials.certificate.derBytes, format: .der))
        ]
        configuration.privateKey = .privateKey(
          try NIOSSLPrivateKey(bytes: Array(credentials.keyPEM.utf8), format: .pem))
      }
      let context = try NIOSSLContext(configuration: configuration)
      let trust = self.trust
      return try NIOSSLClientHandler(
        context: context, serverHostname: CertificateAuthority.schedulerName,
        customVerificationCallback: { presented, promise in
          let chain = presented.compactMap { try? $0.toDERBytes() }
          Task {
            if let reason = await Self.verify(chain, trust: trust, now: Date()) {
              failure.set(reason)
              promise.succeed(.failed)
            } else {
              promise.succeed(.certificateVerified)
            }
          }
        })
    } catch let error as TransportError {
      throw error
    } catch {
      throw TransportError(.tls, "cannot set up TLS to the scheduler: \(error)")
    }
  }

  /// nil when `chain` (DER, the scheduler's certificate first) is the scheduler's of the
  /// trusted CA; otherwise why not, in words a user can act on.
  static func verify(_ chain: [[UInt8]], trust: Trust, now: Date) async -> String? {
    let certificates = chain.compactMap { try? Certificate(derEncoded: $0) }
    guard certificates.count == chain.count, let leaf = certificates.first else {
      return "the scheduler sent a certificate that cannot be read"
    }
    let root: Certificate
    switch trust {
    case .authority(let authority):
      root = authority
    case .pinned(let fingerprint):
      guard
        let found = zip(chain, certificates).first(where: {
          Fingerprint.sha256($0.0) == fingerprint
        })
      else {
        return
          "the scheduler's certificate is not from the CA the join token names (fingerprint \(fingerprint.prefix(12))...): check the token and the scheduler address"
      }
      root = found.1
    }
    var verifier = Verifier(rootCertificates: CertificateStore([root])) {
      RFC5280Policy(validationTime: now)
      ServerIdentityPolicy(serverHostname: CertificateAuthority.schedulerName, serverIP: nil)
    }
    let result = await verifier.validate(
      leaf: leaf, intermediates: CertificateStore(certificates.dropFirst()))
    guard case .validCertificate = result else {
      return
        "the scheduler's certificate does not check out against the cluster CA (\(result)); is this the scheduler of this node's cluster?"
    }
    guard (try? PeerIdentity(certificate: leaf))?.role == .scheduler else {
      return "the peer's certificate is not a scheduler's"
    }
    return nil
  }
}

/// Why a connection's TLS verification refused the peer, kept for the error the dialer shows.
final class TLSFailure: Sendable {
  private let reason = Mutex<String?>(nil)
  func set(_ text: String) { reason.withLock { $0 = text } }
  var text: String? { reason.withLock { $0 } }
}

/// Completes when the TLS handshake does, or fails with why it did not.
final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = NIOAny
  private let promise: EventLoopPromise<Void>

  init(promise: EventLoopPromise<Void>) { self.promise = promise }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if case .handshakeCompleted = event as? TLSUserEvent {
      promise.succeed(())
      context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
    context.fireUserInboundEventTriggered(event)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    promise.fail(error)
    context.fireErrorCaught(error)
  }

  func channelInactive(context: ChannelHandlerContext) {
    promise.fail(ChannelError.eof)
    context.fireChannelInactive()
  }

  // However the pipeline goes (a close before the handshake ends), the waiter is answered.
  func handlerRemoved(context: ChannelHandlerContext) {
    promise.fail(ChannelError.eof)
  }
}

extension Channel {
  /// Adds the client's TLS handler and a waiter for its handshake.
  func addClientTLS(_ tls: ClientTLS, failure: TLSFailure) throws -> EventLoopFuture<Void> {
    let handler = try tls.makeHandler(failure: failure)
    let promise = eventLoop.makePromise(of: Void.self)
    try pipeline.syncOperations.addHandler(handler)
    try pipeline.syncOperations.addHandler(HandshakeWaiter(promise: promise))
    return promise.futureResult
  }
}

extension TransportError {
  /// The error for a TLS handshake with the scheduler that failed.
  static func handshake(_ error: any Error, failure: TLSFailure, host: String, port: Int)
    -> TransportError
  {
    if let reason = failure.text { return TransportError(.tls, reason) }
    let text = "\(error)"
    if text.contains("CERTIFICATE") || text.contains("certificate") {
      return TransportError(
        .tls,
        "the scheduler at \(host):\(port) refused this node's certificate (\(text)): if it expired or the node was removed, remove its credentials and join again with a join token"
      )
    }
    if text.contains("WRONG_VERSION_NUMBER") || text.contains("eof") || text.contains("EOF") {
      return TransportError(
        .tls,
        "\(host):\(port) does not speak TLS: is it a scheduler started with --insecure-cluster? Start this side with --insecure-cluster too, or the scheduler without it"
      )
    }
    return TransportError(.tls, "TLS with the scheduler at \(host):\(port) failed: \(text)")
  }
}
