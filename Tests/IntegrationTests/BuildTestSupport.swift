import Foundation
import SchedModel
import SchedTestSupport
import Testing

extension ProcessCluster {
  /// schedd and one builder agent (`sched-agent --builder`), the node ready, and `app`
  /// applied with one slot and `build`.
  func startWithBuilder(
    app: String, ports: String, scheddFlags: [String] = [], agentFlags: [String] = [],
    build: BuildSettings? = nil
  ) async throws -> (scheduler: ManagedProcess, agent: ManagedProcess) {
    let scheduler = schedd(scheddFlags)
    try scheduler.start()
    let agent = self.agent("builder1", ports: ports, extra: ["--builder"] + agentFlags)
    try agent.start()
    #expect(
      await eventually(timeout: .seconds(20)) {
        (try? await api.nodes().first?.state) == .ready
      })
    var spec = Self.sampleSpec(app)
    spec.slots = 1
    spec.build = build
    _ = try await api.apply(spec)
    return (scheduler, agent)
  }

  /// Removes the images builds of `app` left in the engine, and what failed builds left
  /// (their last step's image, untagged).
  static func removeBuiltImages(of app: String) {
    let docker = URL(fileURLWithPath: "/usr/bin/docker")
    if let listed = try? runToEnd(docker, ["images", "-q", "--filter", "reference=\(app)"]) {
      let ids = Set(listed.output.split(whereSeparator: \.isWhitespace).map(String.init))
      if !ids.isEmpty { _ = try? runToEnd(docker, ["rmi", "-f"] + ids.sorted()) }
    }
    _ = try? runToEnd(docker, ["image", "prune", "-f"])
  }
}
