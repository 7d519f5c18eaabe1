import Foundation
import ModelFixtures
import SchedModel
import SchedWire
import Testing

@Suite("Protocol golden lines")
struct ProtocolGoldenTests {
  /// The exact lines of docs/PROTOCOL.md, in the order of `GoldenFrames.all`.
  static let lines = [
    #"{"v":1,"type":"hello","id":"1","node":"web-1","role":"agent","token":"s3cret","versions":[1]}"#,
    #"{"v":1,"type":"welcome","id":"1","cluster":"c-0123456789abcdefghjkmnpqrs","heartbeat_ms":2000,"ttl_ms":6000,"version":1}"#,
    #"{"v":1,"type":"register","id":"2","node":{"address":"10.0.0.5","capacity":{"cpu_millis":4000,"memory_bytes":8589934592},"id":"web-1","labels":{"zone":"home"},"name":"web-1","ports":{"high":20999,"low":20000}}}"#,
    #"{"v":1,"type":"registered","id":"2","generation":3}"#,
    #"{"v":1,"type":"heartbeat","id":"hb17","slots":[{"container_id":"4f2a9c01b3e8","deployment":"d7","health":"healthy","slot":{"app":"web","color":"green","index":2},"started_at":1795750000}],"usage":{"cpu_used_millis":730,"memory_available_bytes":6442450944,"memory_used_bytes":2147483648}}"#,
    #"{"v":1,"type":"error","id":"7","code":"bad_field","message":"heartbeat: field 'usage.cpu_used_millis' must be an integer"}"#,
    #"{"v":1,"type":"command","id":"c41-3","action":{"images":[{"config":"sha256:efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef","manifest":"sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","reference":"turnout-sample:2","size":2097152}],"kind":"assign","slots":[{"container_port":8080,"deployment":"d7","env":{"MODE":"prod"},"health":{"healthy_threshold":1,"interval_ms":1000,"path":"/healthz","timeout_ms":500,"unhealthy_threshold":3},"host_port":20004,"image":"turnout-sample:2","network":"bridge","resources":{"cpu_millis":250,"memory_bytes":134217728},"security":{"binds":[],"cap_add":[],"devices":[],"host_ipc":false,"host_pid":false,"privileged":false},"slot":{"app":"web","color":"green","index":2}}]},"generation":3}"#,
    #"{"v":1,"type":"command_ack","id":"c41-3","message":"started","ok":true}"#,
    #"{"v":1,"type":"command","id":"c42-3","action":{"app":"web","cpu_millis":250,"image":"sha256:abababababababababababababababababababababababababababababababab","kind":"run_test","memory_bytes":134217728,"run":"v7-db","test":{"command":["sh","-c","wget -qO- http://db:8080/version"],"companions":[{"env":{},"image":"turnout-sample:1","name":"db"}],"env":{},"name":"db","timeout_ms":60000}},"generation":3}"#,
    #"{"v":1,"type":"command_ack","id":"c42-3","message":"test db failed with code 1","ok":false,"test":{"duration_ms":812,"exit_code":1,"output":"wget: bad address 'db:8080'\n","timed_out":false}}"#,
    #"{"v":1,"type":"command","id":"c43-3","action":{"check":{"http":{"path":"/","status":200},"name":"home","timeout_ms":2000},"host_port":20004,"kind":"check_slot","slot":{"app":"web","color":"green","index":2}},"generation":3}"#,
    #"{"v":1,"type":"command_ack","id":"c43-3","check":{"detail":"200 in 3 ms","duration_ms":3,"passed":true},"message":"check home of slot web/green/2: 200 in 3 ms","ok":true}"#,
    #"{"v":1,"type":"routes","id":"r12","phase":"prepare","table":{"apps":[{"app":"web","candidate":{"color":"blue","deployment":"d6","image":"turnout-sample:1","upstreams":[{"address":"10.0.0.6","port":20001,"slot":{"app":"web","color":"blue","index":0}}]},"hosts":["web.example.com"],"live":{"color":"green","deployment":"d7","image":"turnout-sample:2","upstreams":[{"address":"10.0.0.5","port":20004,"slot":{"app":"web","color":"green","index":2}}]}}],"epoch":1795750000123}}"#,
    #"{"v":1,"type":"commit","id":"r13","epoch":1795750000123}"#,
    #"{"v":1,"type":"abort","id":"r14","epoch":1795750000123,"reason":"no ack in time from router(s) edge-2"}"#,
    #"{"v":1,"type":"route_ack","id":"r12","epoch":1795750000123,"ok":true}"#,
    #"{"v":1,"type":"drain","id":"r15","app":"web","color":"blue","timeout_ms":30000}"#,
    #"{"v":1,"type":"drained","id":"r15","app":"web","color":"blue","in_flight":0}"#,
    #"{"v":1,"type":"router_report","id":"rr9","epoch":1795750000123,"started_at":1795749000.5,"traffic":[{"app":"web","color":"green","in_flight":1,"latency":{"bounds_us":[250,500,1000,2500,5000,10000,25000,50000,100000,250000,500000,1000000,2500000,5000000,10000000],"counts":[1,0,1,1,0,0,0,0,0,0,0,0,0,0,0,0],"sum_us":2820},"requests":3,"status":{"2xx":2,"3xx":0,"4xx":0,"5xx":0,"proxy_error":1}}]}"#,
    #"{"v":1,"type":"preview_check","id":"r16","app":"web","check":{"http":{"path":"/version","status":200},"name":"version","timeout_ms":2000},"color":"blue","deployment":"d6","host":"web.example.com"}"#,
    #"{"v":1,"type":"preview_checked","id":"r16","outcome":{"detail":"200 in 4 ms","duration_ms":4,"passed":true}}"#,
    #"{"v":1,"type":"fetch_blob","id":"f1","digest":"sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e","offset":1048576}"#,
    #"{"v":1,"type":"blob","id":"f1","digest":"sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e","offset":1048576,"size":2088960}"#,
    #"{"v":1,"type":"command","id":"c44-3","action":{"app":"web","build":"web-12","build_kind":"app-only","context":"sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e","cpu_millis":1000,"dockerfile":"Dockerfile","kind":"build","memory_bytes":1073741824,"reference":"web:main-b12","timeout_ms":1800000},"generation":3}"#,
    #"{"v":1,"type":"build_log","build":"web-12","from":40,"lines":["Step 3/6 : RUN make"," ---> Running in 605b42338074"]}"#,
    #"{"v":1,"type":"command_ack","id":"c44-3","build":{"cached_steps":2,"image":"sha256:efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef","layers":["sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"],"manifest":"sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","steps":6,"uploaded_bytes":4096},"ok":true}"#,
    #"{"v":1,"type":"check_blobs","id":"check","digests":["sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"]}"#,
    #"{"v":1,"type":"missing_blobs","id":"check","digests":["sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"]}"#,
    #"{"v":1,"type":"put_blob","id":"sha256:5e5e5e5e5e5e","digest":"sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e","size":2088960}"#,
    #"{"v":1,"type":"stored","id":"sha256:5e5e5e5e5e5e","digest":"sha256:5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e","size":2088960}"#,
    #"{"v":1,"type":"certificates","certificates":[{"chain":"-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n","fingerprint":"5e5e5e5e","issuer":"CN=Example CA","key":"-----BEGIN PRIVATE KEY-----\nMIGH...\n-----END PRIVATE KEY-----\n","name":"web.example.com","not_after":1797776000,"not_before":1790000000,"source":"operator"}],"version":7}"#,
    #"{"v":1,"type":"acme_challenges","id":"q12","tokens":{"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0":"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"}}"#,
    #"{"v":1,"type":"challenges_held","id":"q12","count":1}"#,
  ]

  static var cases: [(String, Frame)] {
    zip(lines, GoldenFrames.all.map(\.1)).map { ($0, $1) }
  }

  static func protocolDoc() throws -> String {
    var root = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { root.deleteLastPathComponent() }
    return try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
  }

  @Test("every example encodes to its exact line", arguments: cases)
  func encodesExactly(line: String, frame: Frame) {
    #expect(LineCodec.encode(frame) == line)
  }

  @Test("every example line decodes to its value", arguments: cases)
  func decodesExactly(line: String, frame: Frame) throws {
    #expect(try LineCodec.decode(Array(line.utf8)).get() == frame)
  }

  @Test("docs/PROTOCOL.md shows exactly these lines, one for every message type")
  func documentMatches() throws {
    let docLines = try Self.protocolDoc().split(separator: "\n").map(String.init)
      .filter { $0.hasPrefix(#"{"v":"#) }
    #expect(docLines == Self.lines)
    let types = Set(GoldenFrames.all.map(\.0))
    #expect(types == Set(MessageType.allCases))
  }
}
