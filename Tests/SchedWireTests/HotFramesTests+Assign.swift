import Foundation
import ModelFixtures
import SchedModel
import Testing

@testable import SchedWire

/// Slot lists' own reader and writer against Foundation's, as for heartbeats.
@Suite("Slot lists without Codable: the same bytes, the same frames")
struct HotFramesAssignTests {
  static let names = ["A10", "A2", "a", "B", "_X", "é", "PATH", "z-1", "ünï", "MODE"]

  /// A random list; with `plain`, of strings that need no escape.
  static func randomAssign(_ random: inout SeededRNG, plain: Bool = false) -> AssignSlots {
    let pool =
      plain
      ? HotFramesTests.texts.filter { LineCodec.jsonString($0) == "\"\($0)\"" }
      : HotFramesTests.texts
    func text() -> String { pool.randomElement(using: &random)! }
    func strings() -> [String] { (0..<Int.random(in: 0...3, using: &random)).map { _ in text() } }
    func map() -> [String: String] {
      var out: [String: String] = [:]
      for _ in 0..<Int.random(in: 0...4, using: &random) {
        out[Self.names.randomElement(using: &random)!] = text()
      }
      return out
    }
    func digest() -> ContentDigest {
      ContentDigest(
        rawValue: "sha256:"
          + String((0..<64).map { _ in "0123456789abcdef".randomElement(using: &random)! }))!
    }
    let slots = (0..<Int.random(in: 0...6, using: &random)).map { index in
      var slot = SlotAssignment(
        slot: SlotID(
          app: text(), color: Bool.random(using: &random) ? .blue : .green, index: index),
        deployment: text(), image: text(),
        resources: Resources(
          cpuMillis: Int64.random(in: 0...64_000, using: &random),
          memoryBytes: Int64.random(in: 0...(1 << 40), using: &random)),
        hostPort: Int.random(in: 1...65535, using: &random),
        containerPort: Int.random(in: 1...65535, using: &random), env: map(),
        health: HealthCheck(
          path: text(), intervalMillis: Int64.random(in: 1...60_000, using: &random),
          timeoutMillis: Int64.random(in: 1...60_000, using: &random),
          healthyThreshold: Int.random(in: 1...9, using: &random),
          unhealthyThreshold: Int.random(in: 1...9, using: &random)),
        network: Bool.random(using: &random) ? .bridge : .host,
        security: SecurityRequest(
          privileged: Bool.random(using: &random), binds: strings(), capAdd: strings(),
          hostPID: Bool.random(using: &random), hostIPC: Bool.random(using: &random),
          devices: strings()),
        log: Bool.random(using: &random) ? LogConfig(driver: text(), options: map()) : nil)
      slot.secretFiles = Bool.random(using: &random) ? map() : nil
      return slot
    }
    let images = (0..<Int.random(in: 0...2, using: &random)).map { _ in
      ImageSource(
        reference: text(), manifest: digest(), config: digest(),
        size: Int64.random(in: 0...(1 << 34), using: &random))
    }
    return AssignSlots(slots: slots, images: images)
  }

  @Test("300 random slot lists: written byte for byte as JSONEncoder writes them, read back whole")
  func sameBytesAndFrames() throws {
    var random = SeededRNG(state: 22)
    for number in 0..<300 {
      let frame = Frame(
        id: "c\(number)-3",
        .command(
          Command(
            generation: Int64.random(in: 0...99, using: &random),
            action: .assign(Self.randomAssign(&random)))))
      let fast = LineCodec.encode(frame)
      #expect(fast == LineCodec.encodeWithFoundation(frame))
      let bytes = Array(fast.utf8)
      #expect(try LineCodec.decode(bytes).get() == frame)
    }
  }

  @Test("a plain list the agent gets is read by the slot lists' reader, as JSONDecoder reads it")
  func plainListsAreReadHere() throws {
    var random = SeededRNG(state: 23)
    for _ in 0..<100 {
      let frame = Frame(
        id: "c1",
        .command(
          Command(generation: 2, action: .assign(Self.randomAssign(&random, plain: true)))))
      let bytes = Array(LineCodec.encode(frame).utf8)
      let fast = bytes.withUnsafeBytes { HotFrames.decodeAssign($0) }
      #expect(fast != nil)
      #expect(fast == (try LineCodec.decodeWithFoundation(bytes).get()))
    }
  }

  @Test(
    "credentials, other commands and unusual lines are left to Foundation, which decides as before")
  func leftToFoundation() {
    let withCredentials = Frame(
      id: "c9",
      .command(
        Command(
          generation: 1,
          action: .assign(
            AssignSlots(
              slots: [],
              registries: [
                RegistryCredential(registry: "registry.example", username: "u", password: "p")
              ])))))
    #expect(
      HotFrames.encode(
        { if case .command(let c) = withCredentials.message { return c } else { fatalError() } }(),
        version: 1, id: "c9") == nil)
    #expect(LineCodec.encode(withCredentials) == LineCodec.encodeWithFoundation(withCredentials))
    let slot =
      #"{"container_port":80,"deployment":"d","env":{},"health":{"healthy_threshold":1,"interval_ms":1000,"path":"/","timeout_ms":500,"unhealthy_threshold":3},"host_port":20000,"image":"i","network":"bridge","resources":{"cpu_millis":250,"memory_bytes":1},"security":{},"slot":{"app":"w","color":"blue","index":0}}"#
    let plain =
      #"{"v":1,"type":"command","id":"c1","action":{"kind":"assign","slots":[\#(slot)]},"generation":3}"#
    #expect(Array(plain.utf8).withUnsafeBytes { HotFrames.decodeAssign($0) } != nil)
    let left = [
      plain.replacingOccurrences(of: #""env":{}"#, with: #""env":{"A":"1","A":"2"}"#),
      plain.replacingOccurrences(of: #""security":{}"#, with: #""security":null"#),
      plain.replacingOccurrences(of: #""network":"bridge""#, with: #""network":"overlay""#),
      plain.replacingOccurrences(of: #","image":"i""#, with: ""),
      plain.replacingOccurrences(of: #""kind":"assign""#, with: #""kind":"build""#),
      plain.replacingOccurrences(of: #""generation":3"#, with: #""generation":3,"extra":1"#),
      plain.replacingOccurrences(
        of: #""kind":"assign""#,
        with:
          #""kind":"assign","images":[{"reference":"r","manifest":"sha256:bad","config":"x","size":1}]"#
      ),
      plain.replacingOccurrences(of: #""deployment":"d""#, with: #""deployment":"d\u0041""#),
    ]
    for line in left {
      let bytes = Array(line.utf8)
      #expect(bytes.withUnsafeBytes { HotFrames.decodeAssign($0) } == nil, "\(line)")
      switch (LineCodec.decode(bytes), LineCodec.decodeWithFoundation(bytes)) {
      case (.success(let a), .success(let b)): #expect(a == b, "\(line)")
      case (.failure(let a), .failure(let b)): #expect(a.reply.message == b.reply.message)
      case (let a, let b): Issue.record("\(line): \(a) but \(b)")
      }
    }
  }
}
