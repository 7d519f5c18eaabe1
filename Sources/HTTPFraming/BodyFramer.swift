/// Finds where a message body ends in the bytes after its head, so the router can forward the
/// body as it arrived (or only its data, when a chunked answer goes to an HTTP/1.0 client)
/// and know when the connection is free for the next message. Pure: bytes in, counts out.
public struct BodyFramer {
  private enum State: Equatable {
    case length(remaining: Int)
    case untilClose
    case chunkSize(value: Int, digits: Int)
    case chunkExtension(size: Int)
    case chunkSizeLF(size: Int)
    case chunkData(remaining: Int)
    case chunkDataCR
    case chunkDataLF
    case trailerStart
    case trailer
    case trailerLF
    case finalLF
    case done
  }

  private var state: State
  private var trailerBytes = 0
  /// Trailer fields are passed through, but not without bound.
  public static let maxTrailerBytes = 32 * 1024

  public init(_ framing: BodyFraming) {
    switch framing {
    case .none: state = .done
    case .length(let length): state = length > 0 ? .length(remaining: length) : .done
    case .chunked: state = .chunkSize(value: 0, digits: 0)
    case .untilClose: state = .untilClose
    }
  }

  /// The whole body has been seen.
  public var isDone: Bool { state == .done }

  /// The body ends when the sender closes the connection.
  public var endsAtClose: Bool { state == .untilClose }

  /// Reads as much of `bytes` as belongs to the body; returns how many bytes that is. `data`
  /// is called with the ranges that are body data (not chunk framing or trailers).
  public mutating func consume(
    _ bytes: UnsafeRawBufferPointer, data: (Range<Int>) -> Void = { _ in }
  ) throws(HeadError) -> Int {
    var index = 0
    let count = bytes.count
    while index < count {
      switch state {
      case .done:
        return index
      case .untilClose:
        data(index..<count)
        return count
      case .length(let remaining):
        let take = min(remaining, count - index)
        data(index..<(index + take))
        index += take
        state = remaining == take ? .done : .length(remaining: remaining - take)
      case .chunkData(let remaining):
        let take = min(remaining, count - index)
        data(index..<(index + take))
        index += take
        state = remaining == take ? .chunkDataCR : .chunkData(remaining: remaining - take)
      default:
        try step(bytes[index])
        index += 1
      }
    }
    return index
  }

  /// One byte of chunk framing or trailer.
  private mutating func step(_ byte: UInt8) throws(HeadError) {
    switch state {
    case .chunkSize(let value, let digits):
      if let digit = Self.hexValue(byte) {
        guard digits < 15 else { throw HeadError("a chunk size is too large") }
        state = .chunkSize(value: value << 4 | digit, digits: digits + 1)
      } else if digits > 0, byte == 0x3B || byte == 0x20 || byte == 0x09 {
        state = .chunkExtension(size: value)
      } else if digits > 0, byte == 0x0D {
        state = .chunkSizeLF(size: value)
      } else {
        throw HeadError("a chunk size line is not hexadecimal digits")
      }
    case .chunkExtension(let size):
      if byte == 0x0D {
        state = .chunkSizeLF(size: size)
      } else if byte == 0x0A {
        throw HeadError("a chunk size line ends without CR LF")
      }
    case .chunkSizeLF(let size):
      guard byte == 0x0A else { throw HeadError("a chunk size line ends without CR LF") }
      state = size == 0 ? .trailerStart : .chunkData(remaining: size)
    case .chunkDataCR:
      guard byte == 0x0D else { throw HeadError("chunk data is longer than its size") }
      state = .chunkDataLF
    case .chunkDataLF:
      guard byte == 0x0A else { throw HeadError("chunk data is longer than its size") }
      state = .chunkSize(value: 0, digits: 0)
    case .trailerStart:
      state = byte == 0x0D ? .finalLF : .trailer
      try countTrailer()
    case .trailer:
      if byte == 0x0D { state = .trailerLF }
      try countTrailer()
    case .trailerLF:
      guard byte == 0x0A else { throw HeadError("a trailer line ends without CR LF") }
      state = .trailerStart
    case .finalLF:
      guard byte == 0x0A else { throw HeadError("a chunked body ends without CR LF") }
      state = .done
    case .length, .untilClose, .chunkData, .done:
      break
    }
  }

  private mutating func countTrailer() throws(HeadError) {
    trailerBytes += 1
    if trailerBytes > Self.maxTrailerBytes { throw HeadError("the trailer fields are too large") }
  }

  private static func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: Int(byte - 0x30)
    case 0x41...0x46: Int(byte - 0x41 + 10)
    case 0x61...0x66: Int(byte - 0x61 + 10)
    default: nil
    }
  }
}
