import NIOCore
import NIOTestUtils
import Testing
import WireTransport

@Suite("Line frame decoder")
struct LineFrameDecoderTests {
  func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

  @Test("splits lines whatever the byte boundaries")
  func verifier() throws {
    try ByteToMessageDecoderVerifier.verifyDecoder(
      inputOutputPairs: [
        (buffer("{\"a\":1}\n"), [.line(buffer("{\"a\":1}"))]),
        (buffer("one\r\ntwo\n"), [.line(buffer("one")), .line(buffer("two"))]),
        (buffer("\n"), [.line(buffer(""))]),
      ],
      decoderFactory: { LineFrameDecoder(maxLineBytes: 64) })
  }

  @Test func lineAtTheLimitPassesOneOverDoesNot() {
    var decoder = LineFrameDecoder(maxLineBytes: 8)
    var input = buffer("12345678\n123456789\nnext\n")
    #expect(decoder.nextFrame(&input) == .line(buffer("12345678")))
    #expect(decoder.nextFrame(&input) == .tooLong)
    // After tooLong the decoder drops everything: the connection is about to close.
    #expect(decoder.nextFrame(&input) == nil)
  }

  @Test func oversizedLineWithoutNewlineIsCaughtEarly() {
    var decoder = LineFrameDecoder(maxLineBytes: 8)
    var input = buffer("0123456789abcdef")
    #expect(decoder.nextFrame(&input) == .tooLong)
    #expect(input.readableBytes == 0)
  }

  @Test func partialLineWaitsForMore() {
    var decoder = LineFrameDecoder(maxLineBytes: 64)
    var input = buffer("{\"v\":")
    #expect(decoder.nextFrame(&input) == nil)
    input.writeString("1}\n")
    #expect(decoder.nextFrame(&input) == .line(buffer("{\"v\":1}")))
  }

  @Test func carriageReturnDoesNotCountAgainstTheLimit() {
    var decoder = LineFrameDecoder(maxLineBytes: 4)
    var input = buffer("abcd\r\n")
    #expect(decoder.nextFrame(&input) == .line(buffer("abcd")))
  }
}
