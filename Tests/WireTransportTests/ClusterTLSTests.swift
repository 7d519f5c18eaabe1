import ClusterPKI
import Foundation
import Logging
import NIOCore
import SchedWire
import Synchronization
import Testing
import X509

@testable import WireTransport

/// A TLS line server on loopback that answers each line with what the connection's client
/// certificate says ("none" without one), and counts the lines it read.
final class TLSEchoServer: Sendable {
  let server: LineServer
  let authority: CertificateAuthority
  private let counter = LineCounter()
  var lines: Int { counter.count.withLock { $0 } }
  private let task: Task<Void, any Error>

  init() async throws {
    authority = try CertificateAuthority.create(now: Date())
    let tls = try ServerTLS(authority: authority, now: Date(), validity: 3600)
    server = try await LineServer.bind(host: "127.0.0.1", port: 0, maxLineBytes: 4096, tls: tls)
    var logger = Logger(label: "test.tls")
    logger.logLevel = .critical
    task = Task { [server, counter] in
      try await server.run(logger: logger) { connection in
        do {
          for try await frame in connection.inbound {
            guard case .line = frame else { continue }
            // Read once a line came: the handshake (and the client's certificate) is done.
            let name = await connection.peerCertificate().flatMap {
              try? PeerIdentity(certificate: $0).name
            }
            counter.count.withLock { $0 += 1 }
            try await connection.sendRaw(Array("{\"peer\":\"\(name ?? "none")\"}\n".utf8))
          }
        } catch {}
      }
    }
  }

  func stop() { task.cancel() }

  /// A certificate of this server's CA (or `other`'s) for node `name`, valid from `issued`.
  func credentials(
    _ name: String, of other: CertificateAuthority? = nil, issued: Date = Date(),
    validity: TimeInterval = 3600
  ) throws -> NodeCredentials {
    let ca = other ?? authority
    let request = try CertificateRequest(role: .agent, name: name)
    let certificate = try ca.issue(
      requestPEM: request.pem, role: .agent, name: name, now: issued, validity: validity)
    return try NodeCredentials(
      authority: ca.certificate, certificate: certificate, keyPEM: request.key.pemRepresentation)
  }

  /// Sends a line over `tls` and returns the answer, or nil when the connection ended first.
  func exchange(_ tls: ClientTLS?) async throws -> String? {
    try await LineClient.withConnection(
      host: "127.0.0.1", port: server.port, maxLineBytes: 4096, tls: tls
    ) { connection in
      try await connection.sendRaw(Array("{\"v\":1}\n".utf8))
      for try await frame in connection.inbound {
        if case .line(let bytes) = frame { return String(buffer: bytes) }
      }
      return nil
    }
  }
}

final class LineCounter: Sendable {
  let count = Mutex(0)
}

@Suite("Cluster TLS: the pinned join, mutual TLS, and what is refused")
struct ClusterTLSTests {
  @Test("a node joining checks the scheduler by the token's pin; then presents its certificate")
  func joinThenMutual() async throws {
    let server = try await TLSEchoServer()
    defer { server.stop() }
    let joining = try await server.exchange(
      ClientTLS(trust: .pinned(server.authority.fingerprint)))
    #expect(joining == #"{"peer":"none"}"#)
    let credentials = try server.credentials("web-1")
    let joined = try await server.exchange(
      ClientTLS(trust: .authority(server.authority.certificate), credentials: credentials))
    #expect(joined == #"{"peer":"web-1"}"#)
  }

  @Test("a pin of another CA refuses the scheduler before a line is sent")
  func wrongPin() async throws {
    let server = try await TLSEchoServer()
    defer { server.stop() }
    let other = try CertificateAuthority.create(now: Date())
    let error = await #expect(throws: TransportError.self) {
      try await server.exchange(ClientTLS(trust: .pinned(other.fingerprint)))
    }
    #expect(error?.code == .tls)
    #expect(error?.message.contains("not from the CA the join token names") == true)
    // Trusting another CA outright fails the same way.
    await #expect(throws: TransportError.self) {
      try await server.exchange(ClientTLS(trust: .authority(other.certificate)))
    }
    #expect(server.lines == 0)
  }

  @Test(
    "a certificate of another CA, or an expired one, is refused by the scheduler: no line read",
    arguments: ["other CA", "expired"])
  func refusedClientCertificates(_ kind: String) async throws {
    let server = try await TLSEchoServer()
    defer { server.stop() }
    let credentials =
      kind == "expired"
      ? try server.credentials("web-1", issued: Date().addingTimeInterval(-7200))
      : try server.credentials("web-1", of: try CertificateAuthority.create(now: Date()))
    let tls = ClientTLS(trust: .authority(server.authority.certificate), credentials: credentials)
    // TLS 1.3: the client's side of the handshake may finish before the scheduler's refusal
    // arrives; either way no answer comes and the scheduler reads nothing.
    let answer = try? await server.exchange(tls)
    #expect(answer == nil)
    #expect(server.lines == 0)
  }

  @Test("plain text on the TLS port gets an error line it can show, and is closed")
  func plainTextAnswered() async throws {
    let server = try await TLSEchoServer()
    defer { server.stop() }
    let answer = try #require(try await server.exchange(nil))
    guard case .success(let frame) = LineCodec.decode(Array(answer.utf8)),
      case .error(let reply) = frame.message
    else {
      Issue.record("not an error line: \(answer)")
      return
    }
    #expect(reply.message.contains("speaks TLS"))
    #expect(server.lines == 0)
  }
}
