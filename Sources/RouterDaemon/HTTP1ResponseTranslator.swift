import HTTPFraming
import NIOCore
import NIOHPACK

/// The proxy's HTTP/1.1 answer, read back off its bytes, as one HTTP/2 stream's parts: the
/// head (interim 1xx heads too) with connection-specific fields left out and names in lower
/// case, then the body de-chunked, the last part marked as the end of the stream. Pure.
struct HTTP1ResponseTranslator {
  enum Part: Equatable {
    case head(HPACKHeaders, endStream: Bool)
    case data(ByteBuffer, endStream: Bool)
  }

  enum Body: Equatable {
    case length(Int)
    case chunkSize
    case chunkData(Int)
    case chunkDataEnd
    case trailers
    case untilClose
  }

  enum State: Equatable {
    case head
    case body(Body)
    case done
  }

  /// Where the answer is; `start` (the parsed-head path) moves it past the head.
  var state = State.head
  private var pending = ByteBuffer()
  /// The request was HEAD.
  var requestIsHead = false

  /// Whether the end of the stream was given.
  var ended: Bool { state == .done }

  /// A body that runs until the connection closes; the close ends it.
  var endsOnClose: Bool { state == .body(.untilClose) }

  enum Failure: Error, Equatable { case malformed(String) }

  /// Reads `bytes` on from what came before; returns the parts they complete.
  mutating func feed(_ bytes: ByteBuffer) throws(Failure) -> [Part] {
    pending.writeImmutableBuffer(bytes)
    var parts: [Part] = []
    while pending.readableBytes > 0 {
      switch state {
      case .done:
        pending.clear()
      case .head:
        guard let part = try readHead() else { return parts }
        parts.append(part)
      case .body(let body):
        guard let part = try readBody(body) else { return parts }
        if let part { parts.append(part) }
      }
    }
    return parts
  }

  /// The close ends a body read until close.
  mutating func closed() -> Part? {
    guard endsOnClose else { return nil }
    state = .done
    return .data(ByteBuffer(), endStream: true)
  }

  private mutating func readHead() throws(Failure) -> Part? {
    guard let length = HeadParser.headLength(in: pending) else {
      guard pending.readableBytes < 64 << 10 else { throw .malformed("answer head too large") }
      return nil
    }
    let requestIsHead = self.requestIsHead
    let read = pending.withUnsafeReadableBytes { raw in
      Self.head(UnsafeRawBufferPointer(rebasing: raw[..<length]), requestIsHead: requestIsHead)
    }
    pending.moveReaderIndex(forwardBy: length)
    let head = try read.get()
    if let next = head.next { state = next }
    return head.part
  }

  /// A decimal number, or nil for anything else.
  static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
    guard !bytes.isEmpty, bytes.count < 19 else { return nil }
    var value = 0
    for byte in bytes {
      guard byte >= 48, byte <= 57 else { return nil }
      value = value * 10 + Int(byte - 48)
    }
    return value
  }

  /// The next body part, nil when more bytes are needed, or .some(nil) when bytes were used
  /// without a part to give.
  private mutating func readBody(_ body: Body) throws(Failure) -> Part?? {
    switch body {
    case .untilClose:
      let bytes = pending.readSlice(length: pending.readableBytes)!
      return .some(.data(bytes, endStream: false))
    case .length(let left):
      let take = min(left, pending.readableBytes)
      let bytes = pending.readSlice(length: take)!
      state = take == left ? .done : .body(.length(left - take))
      return .some(.data(bytes, endStream: take == left))
    case .chunkData(let left):
      let take = min(left, pending.readableBytes)
      let bytes = pending.readSlice(length: take)!
      state = .body(take == left ? .chunkDataEnd : .chunkData(left - take))
      return .some(.data(bytes, endStream: false))
    case .chunkDataEnd:
      guard pending.readableBytes >= 2 else { return nil }
      pending.moveReaderIndex(forwardBy: 2)
      state = .body(.chunkSize)
      return .some(nil)
    case .chunkSize:
      guard let line = readLine() else { return nil }
      let hex = line.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
      guard let hex, let size = Int(hex, radix: 16) else { throw .malformed("bad chunk size") }
      state = .body(size == 0 ? .trailers : .chunkData(size))
      return .some(nil)
    case .trailers:
      guard let line = readLine() else { return nil }
      guard line.isEmpty else { return .some(nil) }
      state = .done
      return .some(.data(ByteBuffer(), endStream: true))
    }
  }

  private mutating func readLine() -> String? {
    let view = pending.readableBytesView
    guard let end = Self.find([13, 10], in: view) else { return nil }
    let line = String(decoding: view[view.startIndex..<end], as: UTF8.self)
    pending.moveReaderIndex(forwardBy: end - view.startIndex + 2)
    return line
  }

  private static func find(_ needle: [UInt8], in view: ByteBufferView) -> Int? {
    guard view.count >= needle.count else { return nil }
    var index = view.startIndex
    let last = view.endIndex - needle.count
    while index <= last {
      if view[index] == needle[0], view[index..<(index + needle.count)].elementsEqual(needle) {
        return index
      }
      index += 1
    }
    return nil
  }
}
