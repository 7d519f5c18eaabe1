import NIOCore
import Testing

@testable import HTTPFraming

/// The router's HTTP/1.x head parser, body framer and head writer, on bytes alone.
@Suite("HTTP framing")
struct HTTPFramingTests {
  static func request(_ text: String, preview: String? = nil) throws -> MessageHead {
    let buffer = ByteBuffer(string: text)
    let length = try #require(HeadParser.headLength(in: buffer))
    return try HeadParser.request(buffer.getSlice(at: 0, length: length)!, previewHeader: preview)
  }

  static func response(_ text: String, stamping: Bool = true) throws -> MessageHead {
    let buffer = ByteBuffer(string: text)
    let length = try #require(HeadParser.headLength(in: buffer))
    return try HeadParser.response(buffer.getSlice(at: 0, length: length)!, stamping: stamping)
  }

  static func rejects(_ text: String) -> String? {
    do {
      _ = try request(text)
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test("a head is measured only once its empty line arrived, CR LF or bare LF")
  func headLength() {
    #expect(HeadParser.headLength(in: ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\n")) == nil)
    #expect(HeadParser.headLength(in: ByteBuffer(string: "GET / HTTP/1.1\r\n\r\nrest")) == 18)
    #expect(HeadParser.headLength(in: ByteBuffer(string: "GET / HTTP/1.1\nA: b\n\nrest")) == 21)
    #expect(HeadParser.leadingEmptyLines(in: ByteBuffer(string: "\r\n\r\nGET")) == 4)
  }

  @Test("a request head yields method, host, framing, keep-alive and the fields it drops")
  func requestFacts() throws {
    let head = try Self.request(
      "POST /a?b=c HTTP/1.1\r\nHost: web.test\r\nContent-Length: 5\r\nX-Forwarded-For: 10.0.0.1\r\n"
        + "x-forwarded-for: 10.0.0.2\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n"
        + "Expect: 100-continue\r\nX-Preview: yes\r\nKeep-Alive: timeout=5\r\n\r\n",
      preview: "x-preview")
    #expect(head.method == .post)
    #expect(!head.method.isIdempotent)
    #expect(head.host == "web.test")
    #expect(head.framing == .length(5))
    #expect(head.keepAlive)
    #expect(head.expectsContinue)
    #expect(head.previewValue == "yes")
    #expect(head.forwardedFor == "10.0.0.1, 10.0.0.2")
    let kept = head.fields.filter { !$0.dropped }.map { head.string($0.name) }
    #expect(kept == ["Host", "Content-Length", "X-Preview"])

    let old = try Self.request("GET / HTTP/1.0\r\nHost: a\r\n\r\n")
    #expect(old.minorVersion == 0)
    #expect(!old.keepAlive)
    #expect(old.framing == .none)
    #expect(try Self.request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive)
    #expect(try !Self.request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keepAlive)
    #expect(
      try Self.request("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").framing == .chunked)
    #expect(try Self.request("HEAD / HTTP/1.1\r\n\r\n").method == .head)
  }

  @Test("requests two parsers could frame differently are refused, with the reason")
  func requestRejects() {
    let cases = [
      ("GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "both"),
      ("GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "two different"),
      ("GET / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n", "not a number"),
      ("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "not chunked"),
      ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0"),
      ("GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n", "folded"),
      ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "header name"),
      ("GET / HTTP/1.1\r\nNo colon here\r\n\r\n", "no name or no colon"),
      ("GET / HTTP/1.1\r\n: empty name\r\n\r\n", "no name or no colon"),
      ("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", "control character"),
      ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one host"),
      ("GET / HTTP/2.0\r\n\r\n", "HTTP/1.0 and HTTP/1.1"),
      ("GET /a b HTTP/1.1\r\n\r\n", "HTTP/1.0 and HTTP/1.1"),
      ("G(T / HTTP/1.1\r\n\r\n", "method"),
    ]
    for (text, reason) in cases {
      let error = Self.rejects(text)
      #expect(error?.contains(reason) == true, "\(text.debugDescription): \(error ?? "accepted")")
    }
  }

  @Test("a control character anywhere in a long value is refused; a tab or a high byte is not")
  func controlBytesAtEveryOffset() throws {
    for offset in 0..<20 {
      for (byte, refused) in [
        (0x01, true), (0x1F, true), (0x7F, true), (0x09, false), (0x80, false),
      ] {
        var value = Array(repeating: UInt8(ascii: "v"), count: 20)
        value[offset] = UInt8(byte)
        var buffer = ByteBuffer(string: "GET / HTTP/1.1\r\nX-Long: ")
        buffer.writeBytes(value)
        buffer.writeString("\r\n\r\n")
        let length = try #require(HeadParser.headLength(in: buffer))
        let slice = buffer.getSlice(at: 0, length: length)!
        var refusal: HeadError?
        do { _ = try HeadParser.request(slice, previewHeader: nil) } catch { refusal = error }
        #expect(
          (refusal != nil) == refused,
          "byte \(byte) at \(offset): \(refusal?.description ?? "accepted")")
      }
    }
  }

  @Test("a name byte is a token character exactly as RFC 9110 lists them")
  func tokenBytes() {
    let listed = Set(
      "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    for byte in 0...255 {
      #expect(HeadParser.isTokenByte(UInt8(byte)) == listed.contains(UInt8(byte)), "byte \(byte)")
    }
  }

  @Test("a response's framing follows its status, its request's method and its fields")
  func responseFraming() throws {
    func framing(_ text: String, _ method: MessageHead.Method = .get) throws -> BodyFraming {
      HeadParser.responseFraming(try Self.response(text), method: method)
    }
    #expect(try framing("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n") == .length(12))
    #expect(try framing("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", .head) == .none)
    #expect(try framing("HTTP/1.1 204 No Content\r\n\r\n") == .none)
    #expect(try framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n") == .none)
    #expect(try framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == .chunked)
    #expect(
      try framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
        == .chunked)
    #expect(try framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") == .untilClose)
    #expect(try framing("HTTP/1.0 200 OK\r\n\r\n") == .untilClose)
    #expect(try framing("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == .none)
    let head = try Self.response("HTTP/1.0 503 Busy\r\nConnection: keep-alive\r\n\r\n")
    #expect(head.status == 503)
    #expect(head.keepAlive)
    #expect(try !Self.response("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").keepAlive)
    #expect(throws: HeadError.self) { try Self.response("HTTP/1.1 2x0 OK\r\n\r\n") }
  }

  /// The head the router forwards for the request `text` from `clientIP`.
  static func forwarded(_ text: String, clientIP: String? = nil) throws -> String {
    var out = ByteBuffer()
    HeadWriter.request(try request(text), clientIP: clientIP, into: &out)
    return String(buffer: out)
  }

  @Test("forwarded heads: HTTP/1.1, dropped fields gone, the router's fields added")
  func writesHeads() throws {
    #expect(
      try Self.forwarded(
        "GET /p HTTP/1.0\r\nHost: a\r\nConnection: close\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
        clientIP: "127.0.0.1")
        == "GET /p HTTP/1.1\r\nHost: a\r\nx-forwarded-for: 1.2.3.4, 127.0.0.1\r\n"
        + "x-forwarded-proto: http\r\n\r\n")
    #expect(
      try Self.forwarded("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\n\r\n")
        == "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\n\r\n")

    var out = ByteBuffer()
    let response = try Self.response(
      "HTTP/1.0 200 Fine\r\nX-Turnout-Color: fake\r\nTransfer-Encoding: chunked\r\nA: b\r\n\r\n")
    let stamps = HeadWriter.stamps(color: "blue", slot: "web/blue/0", image: "i", deployment: "d")
    HeadWriter.response(
      response, stamps: stamps, persistence: .close, dechunk: true, into: &out)
    #expect(
      String(buffer: out)
        == "HTTP/1.1 200 Fine\r\nA: b\r\nx-turnout-color: blue\r\nx-turnout-slot: web/blue/0\r\n"
        + "x-turnout-image: i\r\nx-turnout-deployment: d\r\nconnection: close\r\n\r\n")
  }

  @Test("a connection's prepared forwarding fields give the same head as writing them each time")
  func preparedTailMatches() throws {
    let heads = [
      "GET /p HTTP/1.1\r\nHost: a\r\nB: 2\r\n\r\n",
      "GET /p http/1.1\r\nHost: a\r\n\r\n",
      "GET /p HTTP/1.1\nHost: a\n\n",
      "GET /p HTTP/1.0\r\nHost: a\r\n\r\n",
      "GET /p HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
      "GET /p HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\n\r\n",
      "GET /p HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    ]
    for text in heads {
      for (clientIP, secure) in [("127.0.0.1", false), ("::1", true)] as [(String?, Bool)] + [
        (nil, false)
      ] {
        let head = try Self.request(text)
        var each = ByteBuffer()
        HeadWriter.request(head, clientIP: clientIP, secure: secure, into: &each)
        var prepared = ByteBuffer()
        HeadWriter.request(
          head, clientIP: clientIP, secure: secure,
          tail: HeadWriter.forwardedTail(clientIP: clientIP, secure: secure), into: &prepared)
        #expect(String(buffer: prepared) == String(buffer: each), "\(text.debugDescription)")
        // Whatever the client wrote, the start line goes out as HTTP/1.1 with CRLF.
        let target = text.hasPrefix("GET /ws") ? "/ws" : "/p"
        #expect(String(buffer: each).hasPrefix("GET \(target) HTTP/1.1\r\nHost: a"))
      }
    }
  }

  @Test("kept field lines go out as they arrived, in runs around the dropped ones")
  func keptLinesInRuns() throws {
    // A dropped field first, between kept ones, one the connection field names, and last.
    #expect(
      try Self.forwarded(
        "GET /p HTTP/1.1\r\nKeep-Alive: 5\r\nHost: a\r\nA:  1 \r\nConnection: x-hop\r\n"
          + "B: 2\r\nX-Hop: z\nC: 3\r\nTE: trailers\r\n\r\n")
        == "GET /p HTTP/1.1\r\nHost: a\r\nA:  1 \r\nB: 2\r\nC: 3\r\n"
        + "x-forwarded-proto: http\r\n\r\n")
    // Nothing dropped: the block as it came, whatever its spacing.
    #expect(
      try Self.forwarded("GET / HTTP/1.1\r\nHost:a\r\nB:\t2\r\n\r\n")
        == "GET / HTTP/1.1\r\nHost:a\r\nB:\t2\r\nx-forwarded-proto: http\r\n\r\n")
  }

  @Test("an upgrade is asked only with both fields on a bodiless HTTP/1.1 request, and kept")
  func upgrades() throws {
    let asked = try Self.request(
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
        + "Sec-WebSocket-Key: k\r\n\r\n")
    #expect(asked.upgrade.map(asked.string) == "websocket")
    var out = ByteBuffer()
    HeadWriter.request(asked, clientIP: nil, into: &out)
    #expect(
      String(buffer: out)
        == "GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\nx-forwarded-proto: http\r\n"
        + "connection: upgrade\r\nupgrade: websocket\r\n\r\n")
    // Without `connection: upgrade`, on HTTP/1.0, or with a body: plain HTTP, fields dropped.
    for text in [
      "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
      "GET / HTTP/1.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n"
        + "Content-Length: 2\r\n\r\n",
    ] {
      let plain = try Self.request(text)
      #expect(plain.upgrade == nil, "\(text)")
      out.clear()
      HeadWriter.request(plain, clientIP: nil, into: &out)
      #expect(!String(buffer: out).lowercased().contains("upgrade"), "\(text)")
    }
    let agreed = try Self.response(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: x\r\n\r\n")
    #expect(agreed.upgrade.map(agreed.string) == "websocket")
    out.clear()
    HeadWriter.response(agreed, stamps: nil, persistence: .upgraded, dechunk: false, into: &out)
    #expect(
      String(buffer: out)
        == "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x\r\n"
        + "connection: upgrade\r\nupgrade: websocket\r\n\r\n")
  }

  static let chunked =
    "5;ext=1\r\nhello\r\n1A\r\n" + String(repeating: "z", count: 26)
    + "\r\n0\r\nTrailer-A: 1\r\n\r\n"

  @Test("a chunked body ends at the same byte however the reads split it")
  func chunkedAnySplit() throws {
    let bytes = Array((Self.chunked + "NEXT").utf8)
    let bodyLength = bytes.count - 4
    for split in 0...bytes.count {
      var framer = BodyFramer(.chunked)
      var data: [UInt8] = []
      var consumed = 0
      for part in [bytes[0..<split], bytes[split...]] where !framer.isDone {
        let count = try part.withUnsafeBytes { raw in
          try framer.consume(raw) { range in data += raw[range] }
        }
        consumed += count
      }
      #expect(framer.isDone, "split at \(split)")
      #expect(consumed == bodyLength, "split at \(split)")
      #expect(String(decoding: data, as: UTF8.self) == "hello" + String(repeating: "z", count: 26))
    }
  }

  @Test("broken chunk framing is an error, not a guess")
  func chunkedErrors() {
    for text in ["zz\r\n", "5\r\nhelloX\r\n", "5\nhello", "5\r\nhello\r\n0\r\nA: b\rX"] {
      var framer = BodyFramer(.chunked)
      #expect(throws: HeadError.self, "\(text.debugDescription)") {
        _ = try Array(text.utf8).withUnsafeBytes { try framer.consume($0) }
      }
    }
  }

  @Test("a length-framed body stops at its length; no body is done at once")
  func lengthFraming() throws {
    var framer = BodyFramer(.length(5))
    let consumed = try Array("helloGET".utf8).withUnsafeBytes { try framer.consume($0) }
    #expect(consumed == 5)
    #expect(framer.isDone)
    #expect(BodyFramer(.none).isDone)
    #expect(BodyFramer(.untilClose).endsAtClose)
  }
}
