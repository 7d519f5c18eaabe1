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
