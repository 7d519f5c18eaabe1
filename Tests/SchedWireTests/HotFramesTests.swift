import Foundation
import ModelFixtures
import SchedModel
import Testing

@testable import SchedWire

/// The heartbeat's own reader and writer against `JSONDecoder` and `JSONEncoder`: the same
/// bytes written, the same frame read, and every line it does not expect left to Foundation.
@Suite("Heartbeats without Codable: the same bytes, the same frames")
struct HotFramesTests {
  static let texts = [
    "web", "shop-2", "é-ü", "🚀", "a\"quote", "back\\slash", "line\nbreak", "tab\there", "",
    "sha256:" + String(repeating: "ab", count: 32), "a/b", "ctl\u{01}",
  ]

  static func randomBeat(_ random: inout SeededRNG) -> Heartbeat {
    func text() -> String { texts.randomElement(using: &random)! }
    func maybe<T>(_ value: T) -> T? { Bool.random(using: &random) ? value : nil }
    let slots = (0..<Int.random(in: 0...5, using: &random)).map { index in
      SlotStatus(
        slot: SlotID(
          app: text(), color: Bool.random(using: &random) ? .blue : .green,
          index: Int.random(in: 0...10_000, using: &random)),
        deployment: text(), containerID: maybe(text()),
        health: SlotHealth.allCases.randomElement(using: &random)!,
        startedAt: maybe(
          Date(
            timeIntervalSince1970: Bool.random(using: &random)
              ? Double.random(in: 0...2_000_000_000, using: &random)
              : Double(Int.random(in: 0...2_000_000_000, using: &random)))),
        message: maybe(text()), imageID: maybe(text()),
        cpuUsedMillis: maybe(Int64.random(in: -5...Int64.max, using: &random)),
        memoryUsedBytes: maybe(Int64.random(in: Int64.min...Int64.max, using: &random)))
    }
    return Heartbeat(
      usage: HostUsage(
        cpuUsedMillis: Int64.random(in: 0...64_000, using: &random),
        memoryUsedBytes: Int64.random(in: 0...(1 << 40), using: &random),
        memoryAvailableBytes: Int64.random(in: Int64.min...Int64.max, using: &random)),
      slots: slots)
  }

  @Test("500 random heartbeats: written byte for byte as JSONEncoder writes them, read back whole")
  func sameBytesAndFrames() throws {
    var random = SeededRNG(state: 21)
    for number in 0..<500 {
      let frame = Frame(
        id: number % 7 == 0 ? nil : "hb\(number)", .heartbeat(Self.randomBeat(&random)))
      let fast = LineCodec.encode(frame)
      #expect(fast == LineCodec.encodeWithFoundation(frame))
      let bytes = Array(fast.utf8)
      let read = try LineCodec.decode(bytes).get()
      #expect(read == frame)
      #expect(read == (try LineCodec.decodeWithFoundation(bytes).get()))
    }
  }

  @Test(
    "lines in other spellings: read as JSONDecoder reads them, by the heartbeat's reader when plain"
  )
  func otherSpellings() throws {
    let usage = #""usage":{"memory_used_bytes":2,"cpu_used_millis":1,"memory_available_bytes":3}"#
    let status =
      #"{"health":"healthy","slot":{"index":3,"color":"green","app":"web"},"deployment":"d1","container_id":null,"started_at":1700000000.25,"message":null}"#
    let plain = [
      #"{"type":"heartbeat","v":1,\#(usage)}"#,
      #" { "v" : 1 , "type" : "heartbeat" , "id" : null , \#(usage) , "slots" : [ ] } "#,
      #"{"v":1,"type":"heartbeat","id":"7",\#(usage),"slots":[\#(status),\#(status)]}"#,
      #"{"v":1,"type":"heartbeat","slots":[{"slot":{"app":"w","color":"blue","index":0},"deployment":"d","health":"starting","cpu_used_millis":-12,"memory_used_bytes":0}],\#(usage)}"#,
    ]
    for line in plain {
      let bytes = Array(line.utf8)
      let fast = bytes.withUnsafeBytes { HotFrames.decodeHeartbeat($0) }
      #expect(fast != nil, "\(line)")
      #expect(fast == (try LineCodec.decodeWithFoundation(bytes).get()), "\(line)")
    }
  }

  @Test("lines the heartbeat's reader leaves to JSONDecoder, which reads or refuses them as before")
  func leftToFoundation() {
    let usage = #""usage":{"cpu_used_millis":1,"memory_used_bytes":2,"memory_available_bytes":3}"#
    let left = [
      // Valid, but not in the plain form: an escape, a field it does not know, drift.
      #"{"v":1,"type":"heartbeat","id":"a\"b",\#(usage)}"#,
      #"{"v":1,"type":"heartbeat","shiny":true,\#(usage)}"#,
      #"{"v":1,"type":"heartbeat",\#(usage),"drift":[{"container":"c","detail":"gone"}]}"#,
      #"{"v":1,"type":"heartbeat","id":"\u0041",\#(usage)}"#,
      // Another message, or invalid.
      #"{"v":1,"type":"register","id":"2"}"#,
      #"{"v":9,"type":"heartbeat",\#(usage)}"#,
      #"{"v":1,"type":"heartbeat"}"#,
      #"{"v":1,"type":"heartbeat","usage":{"cpu_used_millis":1.5,"memory_used_bytes":2,"memory_available_bytes":3}}"#,
      #"{"v":1,"type":"heartbeat","usage":{"cpu_used_millis":01,"memory_used_bytes":2,"memory_available_bytes":3}}"#,
      #"{"v":1,"type":"heartbeat","usage":{"cpu_used_millis":99999999999999999999,"memory_used_bytes":2,"memory_available_bytes":3}}"#,
      #"{"v":1,"type":"heartbeat",\#(usage),"slots":[{"slot":{"app":"w","color":"red","index":0},"deployment":"d","health":"starting"}]}"#,
      #"{"v":1,"type":"heartbeat",\#(usage),"slots":[{"deployment":"d","health":"starting"}]}"#,
      #"{"v":1,"type":"heartbeat",\#(usage)} trailing"#,
      #"{"v":1,"type":"heartbeat",\#(usage)"#,
    ]
    for line in left {
      let bytes = Array(line.utf8)
      let fast = bytes.withUnsafeBytes { HotFrames.decodeHeartbeat($0) }
      #expect(fast == nil, "\(line)")
      let viaCodec = LineCodec.decode(bytes)
      let viaFoundation = LineCodec.decodeWithFoundation(bytes)
      switch (viaCodec, viaFoundation) {
      case (.success(let a), .success(let b)): #expect(a == b, "\(line)")
      case (.failure(let a), .failure(let b)):
        #expect(a.reply.message == b.reply.message && a.id == b.id, "\(line)")
      default: Issue.record("\(line): \(viaCodec) but \(viaFoundation)")
      }
    }
  }

  @Test("a heartbeat with pulls or a time JSON cannot hold is written by JSONEncoder")
  func writtenByFoundation() {
    var beat = Heartbeat(
      usage: HostUsage(cpuUsedMillis: 1, memoryUsedBytes: 2, memoryAvailableBytes: 3))
    beat.drift = [DriftReport(slot: nil, container: "c", detail: "gone")]
    #expect(HotFrames.encode(beat, version: 1, id: nil) == nil)
    beat.drift = []
    beat.slots = [
      SlotStatus(
        slot: SlotID(app: "w", color: .blue, index: 0), deployment: "d", health: .healthy,
        startedAt: Date(timeIntervalSince1970: .infinity))
    ]
    #expect(HotFrames.encode(beat, version: 1, id: nil) == nil)
  }
}
