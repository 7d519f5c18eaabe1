import HTTPFraming
import NIOCore
import NIOHPACK
import Testing

@testable import RouterDaemon

@Suite("the proxy's HTTP/1.1 answers as HTTP/2 frames")
struct HTTP1ResponseTranslatorTests {

  /// Every part the answer gives, fed `step` bytes at a time, as text.
  func parts(_ answer: String, step: Int, head: Bool = false, close: Bool = false) throws
    -> [String]
  {
    var translator = HTTP1ResponseTranslator()
    translator.requestIsHead = head
    var out: [HTTP1ResponseTranslator.Part] = []
    let bytes = Array(answer.utf8)
    var index = 0
    while index < bytes.count {
      let end = min(index + step, bytes.count)
      out += try translator.feed(ByteBuffer(bytes: bytes[index..<end]))
      index = end
    }
    if close, let last = translator.closed() { out.append(last) }
    // Consecutive body bytes are joined: how they were cut depends on the feed.
    var text: [String] = []
    for part in out {
      switch part {
      case .head(let headers, let end):
        text.append(
          "head " + headers.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            + (end ? " END" : ""))
      case .data(let bytes, let end):
        if let last = text.last, last.hasPrefix("data "), !last.hasSuffix(" END") {
          text[text.count - 1] = last + String(buffer: bytes) + (end ? " END" : "")
        } else {
          text.append("data " + String(buffer: bytes) + (end ? " END" : ""))
        }
      }
    }
    return text.map { $0.replacingOccurrences(of: "data  END", with: "data END") }
  }

  @Test(
    "answers become HEADERS and DATA, whatever the cuts: sized, chunked, interim, no body, until close",
    arguments: [1, 3, 7, 1000])
  func responses(step: Int) throws {
    #expect(
      try parts(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\ncontent-length: 5\r\n\r\nhello",
        step: step) == [
          "head :status=200,content-type=text/plain,content-length=5", "data hello END",
        ])
    #expect(
      try parts(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
        step: step) == ["head :status=200,x-a=1", "data hello world END"])
    #expect(
      try parts(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
        step: step)
        == ["head :status=100", "head :status=201,content-length=2", "data ok END"])
    #expect(
      try parts("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", step: step, head: true)
        == ["head :status=200,content-length=5 END"])
    #expect(try parts("HTTP/1.1 204 No Content\r\n\r\n", step: step) == ["head :status=204 END"])
    #expect(
      try parts(
        "HTTP/1.1 200 OK\r\nX-Mixed-CASE:  a b \r\nConnection: X-Drop, keep-alive\r\nX-DROP: 1\r\nProxy-Connection: x\r\nUPGRADE: h2c\r\nCONTENT-LENGTH: 2\r\nx-kept: \r\n\r\nok",
        step: step) == [
          "head :status=200,x-mixed-case=a b,content-length=2,x-kept=", "data ok END",
        ])
    #expect(
      try parts("HTTP/1.0 200 OK\r\nconnection: close\r\n\r\nall of it", step: step, close: true)
        == ["head :status=200", "data all of it END"])
  }

  @Test("a bad status line or chunk size is an error, not a guess")
  func badAnswers() {
    var translator = HTTP1ResponseTranslator()
    #expect(throws: HTTP1ResponseTranslator.Failure.self) {
      try translator.feed(ByteBuffer(string: "nonsense\r\n\r\n"))
    }
    var chunked = HTTP1ResponseTranslator()
    #expect(throws: HTTP1ResponseTranslator.Failure.self) {
      try chunked.feed(
        ByteBuffer(string: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"))
    }
  }
}

extension HTTP1ResponseTranslatorTests {
  /// The head as the proxy parsed it, through `start`, then the body's bytes through `feed`.
  func started(_ answer: String, body: String, method: MessageHead.Method = .get) throws
    -> [String]
  {
    let head = try HeadParser.response(ByteBuffer(string: answer), stamping: true)
    var translator = HTTP1ResponseTranslator()
    var text: [String] = []
    let framing = HeadParser.responseFraming(head, method: method)
    switch translator.start(head, framing: framing, extra: [("x-turnout-color", "blue")]) {
    case .head(let headers, let end):
      text.append(
        "head " + headers.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
          + (end ? " END" : ""))
    case .data: Issue.record("a head was expected")
    }
    for part in try translator.feed(ByteBuffer(string: body)) {
      if case .data(let bytes, let end) = part {
        text.append("data " + String(buffer: bytes) + (end ? " END" : ""))
      }
    }
    return text
  }

  @Test("a head the proxy parsed becomes HEADERS directly; the body after it as with feed")
  func parsedHeads() throws {
    #expect(
      try started(
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\n"
          + "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Turnout-Color: green\r\n\r\n", body: "hello")
        == [
          "head :status=200,server=nginx,content-length=5,x-turnout-color=blue", "data hello END",
        ])
    // Chunked: neither transfer-encoding nor a content-length beside it goes out.
    #expect(
      try started(
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n",
        body: "3\r\nabc\r\n0\r\n\r\n")
        == ["head :status=201,x-turnout-color=blue", "data abc", "data  END"])
    // No body: the HEADERS end the stream (204, or an answer to HEAD).
    #expect(
      try started("HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n", body: "")
        == ["head :status=204,date=x,x-turnout-color=blue END"])
    #expect(
      try started("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", body: "", method: .head)
        == ["head :status=200,content-length=7,x-turnout-color=blue END"])
    // No length: the body runs until the proxy closes.
    #expect(
      try started("HTTP/1.0 200 OK\r\n\r\n", body: "abc")
        == ["head :status=200,x-turnout-color=blue", "data abc"])
  }
}
