import AgentCore
import Foundation
import OperatorAPI
import SchedModel
import SchedWire
import Testing
import WireTransport

/// A deterministic generator for tests (SplitMix64).
struct SeededRNG: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

@Suite("Backoff")
struct BackoffTests {
  @Test func growsWithJitterAndStaysUnderTheCap() {
    var backoff = Backoff(base: .milliseconds(200), cap: .seconds(5))
    var rng = SeededRNG(state: 7)
    var delays: [Duration] = []
    for _ in 0..<12 { delays.append(backoff.next(using: &rng)) }
    #expect(delays.allSatisfy { $0 >= .milliseconds(100) && $0 <= .seconds(5) })
    // The ceiling doubles: attempt 0 stays at most 200ms, later ones can reach seconds.
    #expect(delays[0] <= .milliseconds(200))
    #expect(delays.suffix(6).contains { $0 > .seconds(1) })
  }

  @Test func jitterSpreadsAgents() {
    var a = Backoff()
    var b = Backoff()
    var rngA = SeededRNG(state: 1)
    var rngB = SeededRNG(state: 2)
    let first = (0..<5).map { _ in a.next(using: &rngA) }
    let second = (0..<5).map { _ in b.next(using: &rngB) }
    #expect(first != second)
  }

  @Test func resetStartsOver() {
    var backoff = Backoff(base: .milliseconds(200), cap: .seconds(5))
    var rng = SeededRNG(state: 3)
    for _ in 0..<10 { _ = backoff.next(using: &rng) }
    backoff.reset()
    #expect(backoff.attempt == 0)
    #expect(backoff.next(using: &rng) <= .milliseconds(200))
  }
}

@Suite("Command gate")
struct CommandGateTests {
  let stop = CommandAction.assign(AssignSlots(slots: []))

  @Test func executesOnceAndReplaysTheAck() {
    var gate = CommandGate(generation: 2)
    let command = Command(generation: 2, action: stop)
    #expect(gate.decide(id: "c1", command: command) == .execute)
    gate.record(id: "c1", ack: CommandAck(ok: true, message: "stopped"))
    #expect(
      gate.decide(id: "c1", command: command) == .replay(CommandAck(ok: true, message: "stopped")))
    #expect(gate.decide(id: "c2", command: command) == .execute)
  }

  @Test func dropsCommandsFromAnOlderGeneration() {
    var gate = CommandGate(generation: 1)
    gate.registered(generation: 4)
    guard
      case .stale(let ack) = gate.decide(id: "c9", command: Command(generation: 3, action: stop))
    else {
      Issue.record("expected stale")
      return
    }
    #expect(ack.ok == false)
    #expect(gate.decide(id: "c9", command: Command(generation: 4, action: stop)) == .execute)
    gate.registered(generation: 2)
    #expect(gate.generation == 4)
  }

  @Test func forgetsOldestIDsPastItsMemory() {
    var gate = CommandGate(generation: 1, memory: 2)
    let command = Command(generation: 1, action: stop)
    for id in ["a", "b", "c"] { gate.record(id: id, ack: CommandAck(ok: true)) }
    #expect(gate.decide(id: "a", command: command) == .execute)
    #expect(gate.decide(id: "c", command: command) == .replay(CommandAck(ok: true)))
  }
}

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

@Suite("Model parsing")
struct ModelParsingTests {
  @Test func quantities() throws {
    #expect(try Quantity.parseCPU("250m") == 250)
    #expect(try Quantity.parseCPU("1.5") == 1500)
    #expect(try Quantity.parseMemory("256Mi") == 256 << 20)
    #expect(try Quantity.parseMemory("1G") == 1_000_000_000)
    #expect(try Quantity.parseMemory("4096") == 4096)
    #expect(throws: ModelError.self) { try Quantity.parseCPU("fast") }
    #expect(throws: ModelError.self) { try Quantity.parseMemory("-1Gi") }
    #expect(Quantity.formatMemory(1536 << 20) == "1.5Gi")
    #expect(Quantity.formatMemory(512) == "512B")
  }

  @Test func durationsAndAddresses() throws {
    #expect(try Parsing.duration("500ms") == .milliseconds(500))
    #expect(try Parsing.duration("2s") == .seconds(2))
    #expect(try Parsing.duration("1m") == .seconds(60))
    #expect(throws: ModelError.self) { try Parsing.duration("soon") }
    #expect(try Parsing.hostPort("127.0.0.1:7100") == ("127.0.0.1", 7100))
    #expect(try Parsing.hostPort("[::1]:7100") == ("::1", 7100))
    #expect(throws: ModelError.self) { try Parsing.hostPort("localhost") }
    #expect(throws: ModelError.self) { try Parsing.hostPort(":80") }
  }

  @Test func portsLabelsAndIDs() throws {
    #expect(try PortRange.parse("20000-20999").count == 1000)
    #expect(throws: ModelError.self) { try PortRange.parse("9-2") }
    #expect(throws: ModelError.self) { try PortRange.parse("80") }
    #expect(try LabelParser.parse("zone=home, disk=ssd") == ["zone": "home", "disk": "ssd"])
    #expect(throws: ModelError.self) { try LabelParser.parse("zone") }
    #expect(try NodeID.validate("web-1.home") == "web-1.home")
    #expect(throws: ModelError.self) { try NodeID.validate("web 1") }
  }

  @Test func liveness() {
    let policy = LivenessPolicy(heartbeatInterval: .milliseconds(500))
    let seen = Date(timeIntervalSince1970: 1_800_000_000)
    #expect(!policy.isExpired(lastSeen: seen, now: seen.addingTimeInterval(1.5)))
    #expect(policy.isExpired(lastSeen: seen, now: seen.addingTimeInterval(1.51)))
  }
}
