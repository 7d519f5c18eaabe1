import Foundation
import RouteTable
import SchedModel
import Testing

@Suite("Traffic counters")
struct TrafficTests {
  @Test("latencies land in the bucket of their upper bound; quantiles name that bound")
  func histogramBuckets() {
    var histogram = LatencyHistogram()
    for micros: Int64 in [100, 250, 251, 900, 4_000, 20_000_000] {
      histogram.record(micros: micros)
    }
    #expect(histogram.counts[0] == 2)  // <= 250us
    #expect(histogram.counts[1] == 1)  // <= 500us
    #expect(histogram.counts[2] == 1)  // <= 1ms
    #expect(histogram.counts[4] == 1)  // <= 5ms
    #expect(histogram.counts.last == 1)  // beyond the last bound
    #expect(histogram.total == 6)
    #expect(histogram.quantileMicros(0.5) == 500)
    #expect(histogram.quantileMicros(0.99) == 10_000_000)
    #expect(LatencyHistogram().quantileMicros(0.5) == nil)
  }

  @Test("merging adds bucket by bucket, so totals from loops and routers are exact")
  func mergeIsExact() {
    var a = SetTraffic(app: "web", color: .blue)
    var b = SetTraffic(app: "web", color: .blue)
    for i in 0..<70 { a.record(i % 7 == 0 ? .clientError : .success, micros: Int64(i * 100)) }
    for _ in 0..<30 { b.record(.proxyError, micros: 1) }
    b.inFlight = 2
    let merged = SetTraffic.merged([a, b, SetTraffic(app: "web", color: .green)])
    #expect(merged.count == 2)
    let blue = merged[0]
    #expect(blue.requests == 100)
    #expect(blue[.clientError] == 10)
    #expect(blue[.success] == 60)
    #expect(blue[.proxyError] == 30)
    #expect(blue.latency.total == 100)
    #expect(blue.inFlight == 2)
  }

  @Test("traffic survives a JSON round trip with named status classes")
  func coding() throws {
    var traffic = SetTraffic(app: "web", color: .green)
    traffic.record(.redirect, micros: 42)
    let data = try JSONEncoder().encode(traffic)
    let text = String(decoding: data, as: UTF8.self)
    #expect(text.contains("\"3xx\":1"))
    #expect(try JSONDecoder().decode(SetTraffic.self, from: data) == traffic)
    let bad = Data(#"{"bounds_us":[1,2],"counts":[1]}"#.utf8)
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(LatencyHistogram.self, from: bad)
    }
  }
}
