import Foundation
import SchedModel
import SchedWire
import Testing

@Suite("Line codec: bad input is named, not fatal")
struct LineCodecTests {
  func decodeError(_ text: String) -> LineError? {
    if case .failure(let error) = LineCodec.decode(Array(text.utf8)) { return error }
    return nil
  }

  @Test func invalidJSON() {
    let error = decodeError("{not json")
    #expect(error?.reply.code == .badJSON)
    #expect(error?.id == nil)
  }

  @Test func jsonThatIsNotAnObject() {
    #expect(decodeError("[1,2]")?.reply.code == .badJSON)
    #expect(decodeError("\"hello\"")?.reply.code == .badJSON)
  }

  @Test func wrongFieldTypeNamesTheField() {
    let error = decodeError(
      #"{"v":1,"type":"heartbeat","id":"9","usage":{"cpu_used_millis":"lots","memory_used_bytes":1,"memory_available_bytes":2}}"#
    )
    #expect(error?.reply.code == .badField)
    #expect(error?.reply.message == "heartbeat: field 'usage.cpu_used_millis' must be an integer")
    #expect(error?.id == "9")
  }

  @Test func missingFieldNamesThePath() {
    let error = decodeError(
      #"{"v":1,"type":"register","id":"2","node":{"id":"n1","name":"n1","address":"a","ports":{"low":1,"high":2}}}"#
    )
    #expect(error?.reply.message == "register: missing field 'node.capacity'")
  }

  @Test func wrongHeadTypes() {
    #expect(
      decodeError(#"{"v":"1","type":"hello"}"#)?.reply.message == "field 'v' must be an integer")
    #expect(decodeError(#"{"v":1}"#)?.reply.message == "missing field 'type'")
  }

  @Test func unknownTypeListsKnownOnes() {
    let error = decodeError(#"{"v":1,"type":"gossip","id":"3"}"#)
    #expect(error?.reply.code == .unknownType)
    #expect(error?.reply.message.contains("'gossip'") == true)
    #expect(error?.reply.message.contains("heartbeat") == true)
    #expect(error?.id == "3")
  }

  @Test func unsupportedVersion() {
    #expect(decodeError(#"{"v":9,"type":"hello"}"#)?.reply.code == .unsupportedVersion)
  }

  @Test func unknownFieldsAreIgnored() throws {
    let frame = try LineCodec.decode(
      Array(#"{"v":1,"type":"registered","id":"2","generation":4,"shiny":{"new":true}}"#.utf8)
    ).get()
    #expect(frame == Frame(id: "2", .registered(Registered(generation: 4))))
  }

  @Test func invalidValuesInsideFields() {
    let badPorts = decodeError(
      #"{"v":1,"type":"register","node":{"id":"n1","name":"n1","address":"a","capacity":{"cpu_millis":1,"memory_bytes":1},"ports":{"low":9,"high":2}}}"#
    )
    #expect(badPorts?.reply.code == .badField)
    #expect(badPorts?.reply.message.contains("node.ports.high") == true)
    let badID = decodeError(
      #"{"v":1,"type":"register","node":{"id":"no spaces","name":"n1","address":"a","capacity":{"cpu_millis":1,"memory_bytes":1},"ports":{"low":1,"high":2}}}"#
    )
    #expect(badID?.reply.message.contains("node id 'no spaces' is not valid") == true)
  }

  @Test func heartbeatsCarryDriftOnlyWhenThereIsSome() throws {
    let usage = HostUsage(cpuUsedMillis: 1, memoryUsedBytes: 2, memoryAvailableBytes: 3)
    let quiet = LineCodec.encode(Frame(id: "h", .heartbeat(Heartbeat(usage: usage))))
    #expect(!quiet.contains("drift"))
    let report = DriftReport(
      slot: SlotID(app: "web", color: .blue, index: 1), container: "turnout-web-blue-1",
      detail: "container was not running; started it")
    let frame = Frame(id: "h", .heartbeat(Heartbeat(usage: usage, drift: [report])))
    #expect(try LineCodec.decode(Array(LineCodec.encode(frame).utf8)).get() == frame)
  }

  @Test func idsWithQuotesRoundTrip() throws {
    let frame = Frame(id: #"a"b\c"#, .registered(Registered(generation: 1)))
    let line = LineCodec.encode(frame)
    #expect(try LineCodec.decode(Array(line.utf8)).get() == frame)
  }

  @Test func idsWithControlCharactersAndNonASCIIRoundTrip() throws {
    let id = "q\u{1}\u{1f}\t\r\n\\/é\u{2028}😀"
    let line = LineCodec.encode(Frame(id: id, .commit(Commit(epoch: 1))))
    #expect(line.hasPrefix(#"{"v":1,"type":"commit","id":"q\u0001\u001f\t\r\n\\/é"#))
    #expect(try LineCodec.decode(Array(line.utf8)).get().id == id)
    // Foundation reads the same string back from it.
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    #expect(object?["id"] as? String == id)
  }

  @Test func errorFrameEchoesTheID() {
    let error = decodeError(#"{"v":1,"type":"nope","id":"42"}"#)!
    #expect(error.frame.id == "42")
    guard case .error(let reply) = error.frame.message else {
      Issue.record("expected an error frame")
      return
    }
    #expect(reply.code == .unknownType)
  }
}
