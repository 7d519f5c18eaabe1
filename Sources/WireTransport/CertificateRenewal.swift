import ClusterPKI
import Foundation
import Logging
import SchedModel
import SchedWire

/// Renews an agent's or router's certificate before it expires, while its session goes on:
/// once two thirds of the certificate's life are used, a connection of its own presents the
/// current certificate with a new request and keeps what the welcome carries (the next dials
/// use it). A failed attempt is tried again at the next check.
public struct CertificateRenewal: Sendable {
  public let access: ClusterAccess
  public let host: String
  public let port: Int
  public let role: PeerRole
  public let node: NodeID
  public let logger: Logger

  public init(
    access: ClusterAccess, host: String, port: Int, role: PeerRole, node: NodeID, logger: Logger
  ) {
    self.access = access
    self.host = host
    self.port = port
    self.role = role
    self.node = node
    self.logger = logger
  }

  /// Checks now and then (every hundredth of the certificate's life, between 1 s and 10 min;
  /// every second until the node has joined) until cancelled.
  public func run() async {
    while !Task.isCancelled {
      let wait =
        access.identity.map { identity in
          min(max(identity.notAfter.timeIntervalSince(identity.notBefore) / 100, 1), 600)
        } ?? 1
      try? await Task.sleep(for: .seconds(wait))
      if access.renewalDue { await renew() }
    }
  }

  /// One renewal; true when a new certificate is kept.
  @discardableResult
  public func renew() async -> Bool {
    do {
      let dial = try access.renewalDial()
      let welcome = try await LineClient.withConnection(
        host: host, port: port, maxLineBytes: WireLimits.maxLineBytes, tls: dial.tls
      ) { connection in
        try await connection.send(
          Frame(
            id: "renew",
            .hello(
              Hello(
                role: role, versions: ProtocolVersion.supported, node: node, token: "",
                csr: dial.request?.pem, renew: true))))
        for try await frame in connection.inbound {
          guard case .line(let bytes) = frame else { break }
          let answer = try LineCodec.decode(bytes.readableBytesView).get()
          switch answer.message {
          case .welcome(let welcome): return welcome
          case .error(let reply): throw TransportError(.refused, reply.message)
          default: throw TransportError(.refused, "expected welcome")
          }
        }
        throw TransportError(.broken, "the scheduler closed the renewal's connection")
      }
      try access.accept(welcome, for: dial)
      if let identity = access.identity {
        logger.notice(
          "renewed this \(role.rawValue)'s certificate",
          metadata: ["certificate": "\(identity.serial)", "until": "\(identity.notAfter)"])
      }
      return true
    } catch {
      logger.warning(
        "cannot renew the certificate yet; trying again later", metadata: ["error": "\(error)"])
      return false
    }
  }
}
