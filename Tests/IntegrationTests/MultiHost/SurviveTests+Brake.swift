import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites.SurviveTests {
  /// The slots' container IDs in index order, to tell that nothing moved or restarted.
  func containerIDs() async -> [String?] {
    (try? await cluster.api.status(app).sets.first(where: \.live))?.slots.map(\.containerID) ?? []
  }

  func events(_ kind: String) async throws -> [ClusterEvent] {
    try await cluster.api.events(limit: 1000).filter { $0.kind == kind }
  }

  @Test(
    "two of three hosts cut: nothing re-placed, said in events and status; resumed when they return, or on the operator's word"
  )
  func brake() async throws {
    let (hosts, processes, _) = try await start()
    defer {
      for host in hosts.names {
        try? runToEnd(URL(fileURLWithPath: "/bin/bash"), [TestHosts.script.path, "heal", host])
      }
      stop(hosts, processes)
    }
    let before = try #require(await whole(without: "none"))
    let ids = before.slots.map(\.containerID)
    // Two hosts that hold slots; the third (the spare) has room for what the per-node limit
    // of 2 leaves it.
    let cut = Array(Set(before.slots.map(\.node.rawValue)).sorted().prefix(2))
    #expect(cut.count == 2, "slots all on one host: \(before.slots)")
    let spare = try #require(hosts.names.first { !cut.contains($0) })
    let lost = before.slots.filter { cut.contains($0.node.rawValue) }.count
    let room = 2 - before.slots.filter { $0.node.rawValue == spare }.count

    // 1. The brake holds while the hosts are away, and lets go by itself when they return
    //    (a few seconds apart, as their agents' backoff has it: the one still away has the
    //    return grace to dial in).
    for host in cut { try await TestHosts.run(["cut", host]) }
    var status: ReplacementStatus?
    #expect(
      await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
        status = try? await cluster.api.nodesAndReplacement().replacement
        // Braked when the first crosses the TTL (the other silent), both down a beat later.
        return status?.braked == true && status?.missing.count == lost
      }, "never braked with every slot of the cut hosts held: \(String(describing: status))")
    #expect(status?.reason?.contains("2 of 3 nodes") == true, "\(String(describing: status))")
    #expect(try await cluster.api.status(app).replacement?.braked == true)
    #expect(try await events("replacement.braked").count == 1)
    try await Task.sleep(for: .seconds(3))
    #expect(try await events("slot.replaced").isEmpty)
    for host in cut { try await TestHosts.run(["heal", host]) }
    #expect(
      await eventually(timeout: .seconds(30)) {
        (try? await cluster.api.nodesAndReplacement())
          .map { $0.replacement == nil && $0.nodes.allSatisfy { $0.state == .ready } } == true
      })
    let released = try await events("replacement.resumed")
    #expect(released.count == 1 && released.first?.actor == "scheduler", "\(released)")
    #expect(try await events("slot.replaced").isEmpty)
    #expect(await containerIDs() == ids, "a container moved or restarted")

    // 2. Cut again: the operator's word moves what fits to the spare; the rest is missing,
    // with the reason, until room appears (the first cut host to return, since the operator
    // called the others gone) or its own host returns.
    for host in cut { try await TestHosts.run(["cut", host]) }
    // The operator looks when both are down (braked when the first was, the other silent).
    #expect(
      await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
        guard (try? await events("replacement.braked").count) == 2,
          let nodes = try? await cluster.api.nodes()
        else { return false }
        return nodes.filter { cut.contains($0.name) }.allSatisfy { $0.state == .down }
      })
    let resume = try await cluster.schedctl(["node", "resume-replacement"])
    #expect(resume.status == 0, "\(resume.output)")
    #expect(resume.output.contains("Re-placing although 2 of 3 nodes"), "\(resume.output)")
    var moved: [ClusterEvent] = []
    #expect(
      await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
        moved = (try? await events("slot.replaced")) ?? []
        return moved.count == min(room, lost)
      }, "moved: \(moved)")
    #expect(moved.allSatisfy { $0.detail.contains(" to \(spare) (port ") }, "\(moved)")
    let resumed = try await events("replacement.resumed")
    #expect(resumed.count == 2 && resumed.last?.actor != "scheduler", "\(resumed)")
    let missing = try await cluster.api.nodesAndReplacement().replacement?.missing ?? []
    #expect(missing.count == lost - min(room, lost), "\(missing)")
    for host in cut { try await TestHosts.run(["heal", host]) }
    #expect(
      await eventually(timeout: .seconds(40)) {
        guard let set = try? await cluster.api.status(app).sets.first(where: \.live) else {
          return false
        }
        let quiet = (try? await cluster.api.nodesAndReplacement()).map { $0.replacement == nil }
        return set.slots.count == 4 && set.slots.allSatisfy { $0.health == .healthy }
          && quiet == true
      }, "not whole after the hosts returned: \(processes.last?.log.suffix(3000) ?? "")")
    try await Task.sleep(for: .seconds(2))
    let log = try await cluster.api.events(limit: 1000).filter {
      $0.kind.hasPrefix("replacement.") || $0.kind.hasPrefix("slot.") || $0.kind.hasPrefix("node.")
    }.map { "\($0.at.timeIntervalSince1970) \($0.actor) \($0.kind) \($0.subject) \($0.detail)" }
    let moves = try await events("slot.replaced").count
    #expect((min(room, lost)...lost).contains(moves), "\(log.joined(separator: "\n"))")
    // One container per slot on the engines: every stale copy stopped.
    var running = 0
    #expect(
      await eventually(timeout: .seconds(20)) {
        running = 0
        for host in hosts.names {
          let listed = try? TestHosts.docker(
            host, ["ps", "-q", "--filter", "label=turnout.app=\(app)"])
          running += listed?.output.split(separator: "\n").count ?? 0
        }
        return running == 4
      }, "\(running) containers for 4 slots")
  }
}
