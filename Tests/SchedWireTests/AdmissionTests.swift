import SchedModel
import SchedWire
import Testing

@Suite("Admission")
struct AdmissionTests {
  let admission = Admission(tokens: [.agent: "jt"], heartbeatMillis: 2000, ttlMillis: 6000)

  @Test func goodHello() {
    let result = admission.admit(Hello(role: .agent, versions: [1, 2], node: "n1", token: "jt"))
    #expect(result == .success(Welcome(version: 1, heartbeatMillis: 2000, ttlMillis: 6000)))
  }

  @Test func wrongToken() {
    guard
      case .failure(let reply) = admission.admit(
        Hello(role: .agent, versions: [1], node: "n1", token: "jT"))
    else {
      Issue.record("expected refusal")
      return
    }
    #expect(reply.code == .unauthorized)
    #expect(reply.message.contains("join token refused"))
  }

  @Test func noSharedVersion() {
    guard
      case .failure(let reply) = admission.admit(
        Hello(role: .agent, versions: [7], node: "n1", token: "jt"))
    else {
      Issue.record("expected refusal")
      return
    }
    #expect(reply.code == .unsupportedVersion)
  }

  @Test func roleNotServed() {
    guard
      case .failure(let reply) = admission.admit(
        Hello(role: .router, versions: [1], node: "r1", token: "jt"))
    else {
      Issue.record("expected refusal")
      return
    }
    #expect(reply.code == .unauthorized)
  }
}

@Suite("Admission over TLS: certificates and requests")
struct CertifiedAdmissionTests {
  let admission = Admission(
    tokens: [.agent: "jt", .router: "rt"], heartbeatMillis: 2000, ttlMillis: 6000,
    requireCertificates: true)

  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var hello: Hello
    var certified: CertifiedPeer?
    /// nil: welcomed; else a piece of the refusal's message.
    var refusal: String?
    var testDescription: String { name }
  }

  static func hello(
    _ role: PeerRole = .agent, _ node: NodeID = "n1", token: String = "", csr: String? = nil
  ) -> Hello {
    Hello(role: role, versions: [1], node: node, token: token, csr: csr)
  }

  static let cases: [Case] = [
    Case(
      name: "a joined node's certificate, no token", hello: hello(),
      certified: CertifiedPeer(role: .agent, name: "n1", standing: .valid), refusal: nil),
    Case(
      name: "a certificate renewing at a dial", hello: hello(csr: "PEM"),
      certified: CertifiedPeer(role: .agent, name: "n1", standing: .valid), refusal: nil),
    Case(
      name: "a certificate speaking for another node", hello: hello(.agent, "n2"),
      certified: CertifiedPeer(role: .agent, name: "n1", standing: .valid),
      refusal: "cannot speak for 'n2'"),
    Case(
      name: "an agent's certificate saying hello as a router", hello: hello(.router, "n1"),
      certified: CertifiedPeer(role: .agent, name: "n1", standing: .valid),
      refusal: "not a router's"),
    Case(
      name: "a revoked certificate, even with the right token", hello: hello(token: "jt"),
      certified: CertifiedPeer(role: .agent, name: "n1", standing: .revoked),
      refusal: "was removed from the cluster"),
    Case(
      name: "a certificate the records do not know", hello: hello(),
      certified: CertifiedPeer(role: .agent, name: "n1", standing: .unknown),
      refusal: "not one this scheduler issued"),
    Case(
      name: "joining: the token and a request", hello: hello(token: "jt", csr: "PEM"),
      certified: nil, refusal: nil),
    Case(
      name: "the token without a request over TLS", hello: hello(token: "jt"), certified: nil,
      refusal: "has no certificate and asked for none"),
    Case(
      name: "no certificate, no token", hello: hello(csr: "PEM"), certified: nil,
      refusal: "join token refused"),
    Case(
      name: "a router joining with the router token",
      hello: hello(.router, "edge", token: "rt", csr: "PEM"),
      certified: nil, refusal: nil),
    Case(
      name: "a router with the agents' token",
      hello: hello(.router, "edge", token: "jt", csr: "PEM"),
      certified: nil, refusal: "router token refused"),
  ]

  @Test("each hello is welcomed or refused with a reason", arguments: cases)
  func admit(_ test: Case) {
    switch admission.admit(test.hello, certified: test.certified) {
    case .success:
      #expect(test.refusal == nil, "welcomed, expected a refusal saying '\(test.refusal ?? "")'")
    case .failure(let reply):
      #expect(reply.code == .unauthorized)
      if let refusal = test.refusal {
        #expect(reply.message.contains(refusal), "\(reply.message)")
      } else {
        Issue.record("refused: \(reply.message)")
      }
    }
  }

  @Test("plain TCP (no certificates required): the token alone is enough")
  func insecure() {
    let plain = Admission(tokens: [.agent: "jt"], heartbeatMillis: 2000, ttlMillis: 6000)
    guard case .success = plain.admit(Self.hello(token: "jt")) else {
      Issue.record("refused")
      return
    }
  }
}
