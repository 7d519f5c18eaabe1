import ArgumentParser
import Foundation
import OperatorAPI
import Placement
import SchedModel
import SchedWire
import Testing

@testable import SchedCtlCommands

@Suite("schedctl parsing and output")
struct SchedctlTests {
  @Test func parsesPlan() throws {
    let command = try Schedctl.parseAsRoot([
      "plan", "--slots", "3", "--cpu", "250m", "--memory", "128Mi", "--label", "zone=home", "-o",
      "json",
    ])
    let plan = try #require(command as? PlanCommand)
    let request = try plan.request()
    #expect(
      request
        == PlanRequest(slots: 3, cpuMillis: 250, memoryBytes: 128 << 20, labels: ["zone": "home"]))
    #expect(plan.global.output == .json)
  }

  @Test("plan --input takes a file and nothing of a set; plan needs one or the other")
  func parsesOfflinePlan() throws {
    let command = try Schedctl.parseAsRoot(["plan", "--input", "cluster.json", "-o", "json"])
    #expect((command as? PlanCommand)?.input == "cluster.json")
    let repack = try Schedctl.parseAsRoot(["plan", "--input", "f.json", "--rule", "repack"])
    #expect((repack as? PlanCommand)?.rule == "repack")
    for args in [
      ["plan", "--input", "f.json", "--slots", "2"], ["plan"], ["plan", "--slots", "2"],
      ["plan", "--input", "f.json", "--rule", "first-fit"],
    ] {
      #expect(throws: (any Error).self) { try Schedctl.parseAsRoot(args) }
    }
    do {
      _ = try Schedctl.parseAsRoot(["plan"])
    } catch {
      #expect(Schedctl.message(for: error).contains("or an instance file with --input"))
    }
  }

  @Test("an instance file that is not one says which field is wrong")
  func offlinePlanNamesTheField() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "instance-\(UUID().uuidString).json")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data(#"{"node": {"cpu_millicores": 4000}, "nodes": 2, "sets": []}"#.utf8).write(to: file)
    #expect(throws: ExitCode(Exit.dataError)) { try OfflinePlan.read(file.path) }
    do {
      _ = try JSONDecoder().decode(
        PlacementInstance.self,
        from: Data(#"{"node": {"cpu_millicores": 4000}, "nodes": 2, "sets": []}"#.utf8))
    } catch {
      #expect(OfflinePlan.describe(error) == "missing node.memory_mib")
    }
  }

  @Test func rejectsBadFlagsWithAReason() {
    #expect(throws: (any Error).self) {
      try Schedctl.parseAsRoot(["plan", "--slots", "0", "--cpu", "1", "--memory", "1"])
    }
    do {
      _ = try Schedctl.parseAsRoot(["plan", "--slots", "1", "--cpu", "lots", "--memory", "1"])
      Issue.record("expected a validation error")
    } catch {
      #expect(Schedctl.message(for: error).contains("CPU 'lots' is not valid"))
      #expect(Schedctl.exitCode(for: error).rawValue == 64)
    }
  }

  @Test func tokenComesFromTheEnvironment() throws {
    var options = try GlobalOptions.parse([])
    #expect(throws: (any Error).self) { try options.client(environment: [:]) }
    let client = try options.client(environment: [
      "TURNOUT_API_TOKEN": "t", "TURNOUT_API": "http://10.1.1.1:7070",
    ])
    #expect(client.baseURL == "http://10.1.1.1:7070")
    options = try GlobalOptions.parse(["--scheduler", "ftp://x"])
    #expect(throws: (any Error).self) {
      try options.client(environment: ["TURNOUT_API_TOKEN": "t"])
    }
  }

  @Test func nodesTable() {
    let node = NodeView(
      id: "n1", name: "n1", address: "127.0.0.1", state: .ready, generation: 1,
      capacity: Resources(cpuMillis: 2000, memoryBytes: 4 << 30),
      allocated: Resources(cpuMillis: 500, memoryBytes: 1 << 30),
      free: Resources(cpuMillis: 1500, memoryBytes: 3 << 30),
      usage: HostUsage(cpuUsedMillis: 120, memoryUsedBytes: 1 << 29, memoryAvailableBytes: 1),
      ports: try! PortRange(low: 20000, high: 20099), labels: [:], heartbeatAgeMillis: 1500)
    let lines = NodesCommand.table([node]).split(separator: "\n")
    #expect(lines.count == 2)
    #expect(lines[0].hasPrefix("NAME  ADDRESS"))
    #expect(lines[1].contains("120m/2000m"))
    #expect(lines[1].contains("512Mi/4Gi"))
    #expect(lines[1].contains("1.5s ago"))
    #expect(NodesCommand.table([]).contains("No nodes yet"))
  }

  @Test func planOutputNamesTheReason() {
    let text = PlanCommand.render(
      PlanResponse(
        fits: false, placed: [], unplaced: [.init(index: 0, reason: "cpu short on 2 nodes")]),
      request: PlanRequest(slots: 1, cpuMillis: 4000, memoryBytes: 1 << 30))
    #expect(text.contains("Does not fit: 1 x (4000m CPU, 1Gi)"))
    #expect(text.contains("cpu short on 2 nodes"))
  }
}
