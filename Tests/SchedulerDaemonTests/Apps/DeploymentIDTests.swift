import Foundation
import Testing

@testable import SchedulerDaemon

@Suite("Deployment ids")
struct DeploymentIDTests {
  @Test("10,000 ids made in the same millisecond are all different, of one length, base 36")
  func distinctWithinAMillisecond() {
    let now = Date(timeIntervalSince1970: 1_796_451_529.607)
    let ids = (0..<10_000).map { _ in AppService.deploymentID(now) }
    #expect(Set(ids).count == ids.count)
    #expect(Set(ids.map(\.count)) == [1 + String(Int64(1_796_451_529_607), radix: 36).count + 8])
    let allowed = Set("0123456789abcdefghijklmnopqrstuvwxyz")
    #expect(ids.allSatisfy { $0.hasPrefix("d") && $0.dropFirst().allSatisfy(allowed.contains) })
  }
}
