import Foundation
import Testing

@testable import DockerRuntime

/// The Engine API's pieces that need no engine: versions, times, log frames, filters, names.
@Suite("Docker Engine API parts")
struct DockerPartsTests {
  @Test("API versions parse and order numerically, not as text")
  func versions() {
    #expect(APIVersion("1.41")! < APIVersion("1.100")!)
    #expect(APIVersion("1.41")!.description == "1.41")
    #expect(APIVersion("1") == nil)
    #expect(APIVersion("one.two") == nil)
    #expect(min(APIVersion("1.53")!, DockerRuntime.newest) == DockerRuntime.newest)
  }

  @Test("engine timestamps keep their milliseconds; the zero time is no time")
  func times() throws {
    let date = try #require(DockerTime.parse("2026-11-27T03:56:29.731630271Z"))
    #expect(abs(date.timeIntervalSince1970 - 1_795_751_789.731) < 0.001)
    #expect(DockerTime.parse("2026-11-27T03:56:29Z") != nil)
    #expect(DockerTime.parse("0001-01-01T00:00:00Z") == nil)
  }

  @Test("log frames are joined without their headers, a cut last frame kept as far as it goes")
  func logFrames() {
    func frame(_ stream: UInt8, _ text: String) -> Data {
      let bytes = Array(text.utf8)
      let n = bytes.count
      return Data(
        [
          stream, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255),
          UInt8(n & 255),
        ] + bytes)
    }
    var data = frame(1, "out ") + frame(2, "err\n")
    data += frame(1, "truncated").prefix(8 + 4)
    #expect(LogFrames.text(data) == "out err\ntrun")
  }

  @Test("label filters are sorted and URL-encoded; image names split at the tag or digest")
  func filtersAndNames() {
    let filter = DockerRuntime.labelFilter(["turnout.node": "a", "turnout.app": "web"])
    #expect(filter.removingPercentEncoding == #"{"label":["turnout.app=web","turnout.node=a"]}"#)
    #expect(DockerRuntime.split("web:2") == ("web", "2"))
    #expect(DockerRuntime.split("registry:5000/web") == ("registry:5000/web", "latest"))
    #expect(DockerRuntime.split("web@sha256:abc") == ("web", "sha256:abc"))
  }
}
