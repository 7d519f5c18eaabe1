import Foundation
import SchedModel
import Testing

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
    // Silent (going down) past TTL minus 1.25 intervals: 0.875 s of the 1.5 s TTL, so nodes
    // whose beats were up to an interval apart are silent when the first is down.
    #expect(!policy.isSilent(lastSeen: seen, now: seen.addingTimeInterval(0.87)))
    #expect(policy.isSilent(lastSeen: seen, now: seen.addingTimeInterval(0.88)))
    #expect(!policy.isSilent(lastSeen: seen, now: seen.addingTimeInterval(0.5)))
    // Never less than an interval: a node with a TTL of one beat is silent only past it.
    let short = LivenessPolicy(heartbeatInterval: .seconds(1), missedBeats: 1)
    #expect(!short.isSilent(lastSeen: seen, now: seen.addingTimeInterval(1.0)))
  }
}
