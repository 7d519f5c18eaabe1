import NIOCore
import NIOHPACK
import Testing

@testable import RouterDaemon

@Suite("HTTP/2 requests to the proxy's HTTP/1.1, and the requests refused")
struct HTTP2RequestTranslatorTests {
  static let base = [(":method", "GET"), (":scheme", "https"), (":authority", "w"), (":path", "/")]

  func head(_ fields: [(String, String)], endStream: Bool = true) throws(HTTP2RequestTranslator
    .Refusal) -> String
  {
    var translator = HTTP2RequestTranslator()
    return String(buffer: try translator.head(HPACKHeaders(fields), endStream: endStream))
  }

  @Test("a request head: the pseudo-fields make the request line and host, cookies are joined")
  func requestHead() throws {
    var translator = HTTP2RequestTranslator()
    let bytes = try translator.head(
      HPACKHeaders([
        (":method", "GET"), (":scheme", "https"), (":authority", "web.test"),
        (":path", "/a?b=1"), ("accept", "*/*"), ("cookie", "a=1"), ("cookie", "b=2"),
      ]), endStream: true)
    #expect(
      String(buffer: bytes)
        == "GET /a?b=1 HTTP/1.1\r\nhost: web.test\r\naccept: */*\r\ncookie: a=1; b=2\r\n\r\n")
    #expect(!translator.chunked)
    // :authority wins over a host field: one host line.
    #expect(
      try head(Self.base + [("host", "other"), ("accept", "*/*")])
        == "GET / HTTP/1.1\r\nhost: w\r\naccept: */*\r\n\r\n")
    // Without :authority, host names the target; OPTIONS * is a request line too.
    #expect(
      try head([(":method", "OPTIONS"), (":scheme", "https"), (":path", "*"), ("host", "h")])
        == "OPTIONS * HTTP/1.1\r\nhost: h\r\n\r\n")
  }

  @Test("a body of unknown length is sent chunked; one with content-length as it is")
  func requestBodies() throws {
    var chunked = HTTP2RequestTranslator()
    let head = try chunked.head(
      HPACKHeaders([
        (":method", "POST"), (":scheme", "https"), (":authority", "w"), (":path", "/p"),
      ]),
      endStream: false)
    #expect(String(buffer: head).hasSuffix("transfer-encoding: chunked\r\n\r\n"))
    #expect(
      String(buffer: try chunked.data(ByteBuffer(string: "hello"), endStream: false))
        == "5\r\nhello\r\n")
    #expect(
      String(buffer: try chunked.data(ByteBuffer(string: "0123456789abcdefX"), endStream: true))
        == "11\r\n0123456789abcdefX\r\n0\r\n\r\n")
    #expect(String(buffer: try chunked.trailers(HPACKHeaders([("x-sum", "1")]))) == "0\r\n\r\n")

    var sized = HTTP2RequestTranslator()
    let sizedHead = try sized.head(
      HPACKHeaders([
        (":method", "PUT"), (":scheme", "https"), (":authority", "w"), (":path", "/p"),
        ("content-length", "3"),
      ]), endStream: false)
    #expect(!String(buffer: sizedHead).contains("chunked"))
    #expect(String(buffer: try sized.data(ByteBuffer(string: "ab"), endStream: false)) == "ab")
    #expect(String(buffer: try sized.data(ByteBuffer(string: "c"), endStream: true)) == "c")
  }

  @Test("DATA that does not add up to content-length is refused: nothing more reaches the slot")
  func lengthMismatch() throws {
    let sizedHead = HPACKHeaders(Self.base + [("content-length", "3")])
    var over = HTTP2RequestTranslator()
    _ = try over.head(sizedHead, endStream: false)
    // A fourth byte would be read by the slot as the start of another request.
    #expect(throws: HTTP2RequestTranslator.Refusal.self) {
      try over.data(ByteBuffer(string: "abcd"), endStream: false)
    }
    var short = HTTP2RequestTranslator()
    _ = try short.head(sizedHead, endStream: false)
    _ = try short.data(ByteBuffer(string: "ab"), endStream: false)
    #expect(throws: HTTP2RequestTranslator.Refusal.self) {
      try short.data(ByteBuffer(), endStream: true)
    }
    var trailed = HTTP2RequestTranslator()
    _ = try trailed.head(sizedHead, endStream: false)
    #expect(throws: HTTP2RequestTranslator.Refusal.self) { try trailed.trailers(HPACKHeaders()) }
    #expect(throws: HTTP2RequestTranslator.Refusal.self) {
      try head(Self.base + [("content-length", "3")], endStream: true)
    }
    #expect(throws: HTTP2RequestTranslator.Refusal.self) {
      try head(Self.base + [("content-length", "3"), ("content-length", "4")], endStream: false)
    }
    #expect(throws: HTTP2RequestTranslator.Refusal.self) {
      try head(Self.base + [("content-length", "-1")], endStream: false)
    }
    // Two equal lengths are one length.
    #expect(
      try head(Self.base + [("content-length", "0"), ("content-length", "0")]).hasPrefix("GET / "))
  }

  /// Every way RFC 9113 calls a request malformed, and what would split or bend the HTTP/1.1
  /// request the slot gets: each is refused (the stream is reset with PROTOCOL_ERROR).
  @Test(
    "malformed requests are refused",
    arguments: [
      ("no :path", [(":method", "GET"), (":scheme", "https"), (":authority", "w")]),
      ("no :scheme", [(":method", "GET"), (":authority", "w"), (":path", "/")]),
      (
        "CONNECT",
        [(":method", "CONNECT"), (":scheme", "https"), (":authority", "w"), (":path", "/")]
      ),
      ("repeated :path", base + [(":path", "/b")]),
      ("repeated host", base + [("host", "a"), ("host", "b")]),
      (
        "userinfo in host",
        [(":method", "GET"), (":scheme", "https"), (":path", "/"), ("host", "a@b")]
      ),
      ("unknown pseudo-field", base + [(":protocol", "websocket")]),
      ("pseudo-field after a regular one", [("accept", "*/*")] + base),
      ("upper-case name", base + [("Accept", "*/*")]),
      ("space in a name", base + [("x a", "1")]),
      ("empty name", base + [("", "1")]),
      ("CR LF in a value", base + [("x-a", "1\r\nx-injected: 1")]),
      ("LF in a value", base + [("x-a", "1\nGET /evil HTTP/1.1")]),
      ("NUL in a value", base + [("x-a", "1\u{0}")]),
      ("leading space in a value", base + [("x-a", " 1")]),
      ("trailing tab in a value", base + [("x-a", "1\t")]),
      ("connection", base + [("connection", "close")]),
      ("transfer-encoding", base + [("transfer-encoding", "chunked")]),
      ("upgrade", base + [("upgrade", "websocket")]),
      ("keep-alive", base + [("keep-alive", "5")]),
      ("te other than trailers", base + [("te", "gzip")]),
      ("space in :path", [(":method", "GET"), (":scheme", "https"), (":path", "/a HTTP/1.1\r")]),
      ("path not origin-form", [(":method", "GET"), (":scheme", "https"), (":path", "http://x/")]),
      ("method not a token", [(":method", "G T"), (":scheme", "https"), (":path", "/")]),
      (
        "userinfo in :authority",
        [(":method", "GET"), (":scheme", "https"), (":authority", "a@w"), (":path", "/")]
      ),
      (
        "space in :authority",
        [(":method", "GET"), (":scheme", "https"), (":authority", "w x"), (":path", "/")]
      ),
    ] as [(String, [(String, String)])])
  func malformed(_ why: String, _ fields: [(String, String)]) {
    #expect(throws: HTTP2RequestTranslator.Refusal.self, "\(why)") {
      try head(fields)
    }
  }

  @Test("te: trailers and other lower-case tokens pass; trailers hold no pseudo-field")
  func allowed() throws {
    #expect(
      try head(Self.base + [("te", "trailers"), ("x-a_b.c~", "v a l")]).contains(
        "x-a_b.c~: v a l\r\n"))
    var translator = HTTP2RequestTranslator()
    _ = try translator.head(HPACKHeaders(Self.base), endStream: false)
    #expect(throws: HTTP2RequestTranslator.Refusal.self) {
      try translator.trailers(HPACKHeaders([(":path", "/x")]))
    }
  }
}

@Suite("an HTTP/2 receive window given back")
struct HTTP2InboundWindowTests {
  @Test("given back once down to half, held while paused, and what was held given on resuming")
  func increments() {
    var window = HTTP2InboundWindow(target: 100)
    // (event, increment expected): reported sizes and pauses, in order.
    let steps: [(String, Int?)] = [
      ("report 80", nil), ("report 51", nil), ("report 50", 50), ("report 90", nil),
      ("pause", nil), ("report 30", nil), ("report 0", nil), ("resume", 100),
      ("resume", nil), ("report -20", 120),
    ]
    for (step, expected) in steps {
      let parts = step.split(separator: " ")
      let increment: Int? =
        switch parts[0] {
        case "report": window.reported(Int(parts[1])!)
        case "pause": window.setOpen(false)
        default: window.setOpen(true)
        }
      #expect(increment == expected, "\(step)")
    }
    #expect(window.size == 100)
  }
}
