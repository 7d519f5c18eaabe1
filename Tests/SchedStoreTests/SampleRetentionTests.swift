import Foundation
import SchedModel
import SchedStore
import SchedTestSupport
import Testing

/// Metric samples: buckets, means, and a table whose size stays bounded however long it runs.
@Suite("Metric samples and retention")
struct SampleRetentionTests {
  @Test("a sample lands in one bucket per tier; a series holds a bounded number of points")
  func buckets() {
    let tiers = Retention.standard.tiers
    #expect(Retention.bucket(1_795_750_007, tiers[0]) == 1_795_750_000)
    #expect(Retention.bucket(1_795_750_007, tiers[1]) == 1_795_749_960)
    #expect(Retention.bucket(-5, tiers[0]) == -10)
  }

  @Test("samples past every tier's keep are dropped: the table stays bounded, means are right")
  func retentionBoundsTheTable() async throws {
    let store = try SQLiteStore(
      path: temporaryDirectory("samples").appendingPathComponent("s.db").path)
    // The standard tiers scaled down 24x (10 s for an hour, 1 min for 1.25 days would be too
    // long to simulate): 10 s points for 1 hour, 1 min points for 6 hours; 8 hours of samples.
    let retention = Retention(tiers: [
      .init(resolution: 10, keep: 3_600), .init(resolution: 60, keep: 6 * 3_600),
    ])
    let start: Int64 = 1_790_000_000 - 1_790_000_000 % 3600
    let series = ["node/n1/cpu", "set/web/blue/requests"]
    var now = start
    // One simulated 10 minutes per write: 60 samples per series, values 0...59.
    for batch in 0..<(8 * 6) {
      var samples: [Sample] = []
      for step in 0..<60 {
        let at = start + Int64(batch) * 600 + Int64(step) * 10
        for name in series { samples.append(Sample(series: name, at: at, value: Double(step))) }
      }
      now = start + Int64(batch + 1) * 600
      try await store.recordSamples(samples, retention: retention, now: now)
    }
    let rows = try await store.sampleRowCount()
    #expect(rows <= series.count * Int(retention.pointsPerSeries))
    #expect(rows >= series.count * (360 + 360))
    let fine = try await store.samplePoints(series: [series[0]], resolution: 10, since: 0)
    #expect(fine.first!.start >= now - 3_600)
    let coarse = try await store.samplePoints(series: [series[0]], resolution: 60, since: 0)
    #expect(coarse.first!.start >= now - 6 * 3_600)
    #expect(coarse.count >= 360)
    // A 1 min bucket is the mean of its six 10 s samples: steps 0...5 average 2.5.
    let first = try #require(coarse.first { $0.start == now - 600 })
    #expect(first.count == 6)
    #expect(first.mean == 2.5)
    // The standard tiers bound a series at a day of 10 s and 30 days of 1 min points.
    #expect(Retention.standard.pointsPerSeries == 8_641 + 43_201)
  }
}
