import ArgumentParser
import Foundation
import SchedModel
import SchedTestSupport
import Testing

@testable import SchedCtlCommands

/// Issue 14.15 to 14.19: what users of a command-line tool check first.
@Suite("Conventions: --version, --help at 80 columns, unknown commands, -o json")
struct ConventionsTests {
  static let programs = ["schedd", "sched-agent", "sched-router", "schedctl"]
  /// Every schedctl command, rendered in-process (no process per page).
  static let commands: [any ParsableCommand.Type] = [
    Schedctl.self, NodesCommand.self, PlacementCommand.self, PlanCommand.self, AppCommand.self,
    AppApplyCommand.self, AppListCommand.self, DeployCommand.self, StatusCommand.self,
    VerifyCommand.self, SwitchCommand.self, RollbackCommand.self, RetireCommand.self,
    RoutersCommand.self, StopSetCommand.self, EventsCommand.self, TopCommand.self,
  ]

  static func binary(_ name: String) throws -> URL {
    try ManagedProcess.binDirectory().appendingPathComponent(name)
  }

  /// `PROGRAM [WORDS] --help` as a pipe at `columns`.
  static func help(_ program: String, _ words: String = "", columns: Int) async throws -> String {
    var environment = ProcessInfo.processInfo.environment
    environment["COLUMNS"] = String(columns)
    let arguments = words.split(separator: " ").map(String.init) + ["--help"]
    return try await run(binary(program), arguments, environment: environment).output
  }

  @Test("every program prints its version and the commit it was built from", arguments: programs)
  func version(_ program: String) async throws {
    let (status, output) = try await run(Self.binary(program), ["--version"])
    #expect(status == 0)
    let line = output.trimmingCharacters(in: .whitespacesAndNewlines)
    let version = try String(
      contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../VERSION").standardized, encoding: .utf8
    ).trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(line.hasPrefix("\(program) \(version) (commit "), "\(line)")
    let commit = line.split(separator: " ").last.map { String($0.dropLast()) } ?? ""
    #expect(commit.count == 12 && commit.allSatisfy(\.isHexDigit), "\(line)")
  }

  @Test("every help reads right at 80 columns: no line longer, no example broken")
  func helpAt80Columns() async throws {
    var pages: [(name: String, narrow: String, wide: String)] = []
    // The daemons are executables: their help comes from the built programs.
    for program in ["schedd", "sched-agent", "sched-router"] {
      pages.append(
        (
          program, try await Self.help(program, columns: 80),
          try await Self.help(program, columns: 400)
        ))
    }
    for command in Self.commands {
      pages.append(
        (
          "schedctl \(command.configuration.commandName ?? "")",
          Schedctl.helpMessage(for: command, columns: 80),
          Schedctl.helpMessage(for: command, columns: 400)
        ))
    }
    for (name, narrow, wide) in pages {
      #expect(narrow.contains("USAGE:"), "\(name): \(narrow)")
      for line in narrow.split(separator: "\n") where line.count > 80 {
        Issue.record("\(name) --help has a line of \(line.count): \(line)")
      }
      // Examples (indented lines) must never need wrapping: at any width they read the same.
      let described = wide.components(separatedBy: "USAGE:")[0]
      for line in described.split(separator: "\n") where line.hasPrefix(" ") && line.count > 80 {
        Issue.record("\(name): an example line of \(line.count) gets wrapped: \(line)")
      }
    }
  }

  @Test("the spec example in app apply --help is a valid spec, as printed at 80 columns")
  func specExampleParses() async throws {
    let page = Schedctl.helpMessage(for: AppApplyCommand.self, columns: 80)
    let lines = page.components(separatedBy: "\n")
    let start = try #require(lines.firstIndex { $0.hasPrefix("  name:") })
    let end = try #require(lines[start...].firstIndex { $0.isEmpty })
    let yaml = lines[start..<end].map { String($0.dropFirst(2)) }.joined(separator: "\n")
    let spec = try AppSpecFile.parse(yaml, file: "help.yaml")
    try spec.validate()
    #expect(spec.name == "web")
    #expect(spec.health.unhealthyThreshold == 3)
    #expect(spec.tests.first?.companions.first?.image == "postgres:16")
    #expect(spec.log?.driver == "fluentd")
  }

  @Test(
    "an unknown command is named, with the commands and the nearest one",
    arguments: [
      (["logs", "web"], "unknown command 'logs'", nil),
      (["swich", "web"], "unknown command 'swich'", "did you mean 'switch'?"),
      (["app", "lst"], "unknown command 'lst' for 'schedctl app'", "did you mean 'list'?"),
      (["statu"], "unknown command 'statu'", "did you mean 'status'?"),
    ] as [([String], String, String?)])
  func unknownCommand(_ arguments: [String], _ says: String, _ suggests: String?) async throws {
    let message = try #require(UnknownCommand.message(arguments))
    #expect(message.hasPrefix(says))
    if let suggests { #expect(message.contains(suggests)) }
    #expect(message.contains("commands: "))
    let (status, output) = try await run(Self.binary("schedctl"), arguments)
    #expect(status == 64)
    #expect(output.contains("error: \(says)"), "\(output)")
  }

  @Test("command lines that name a command are left to the parser")
  func knownCommandsPass() {
    for arguments in [
      ["deploy", "web"], ["app", "apply", "x.yaml"], ["--help"], ["help", "deploy"], [],
    ] {
      #expect(UnknownCommand.message(arguments) == nil, "\(arguments)")
    }
  }

  @Test("schedctl top -o json prints a JSON frame, not a table (14.17)")
  func topJSON() async throws {
    let scheduler = try await InProcessScheduler.start()
    let agent = scheduler.startAgent("n1")
    defer { agent.cancel() }
    #expect(await eventually { (try? await scheduler.api.nodes().count) == 1 })
    let (status, output) = try await run(
      Self.binary("schedctl"), ["top", "--once", "-o", "json"],
      environment: scheduler.schedctlEnvironment)
    #expect(status == 0, "\(output)")
    let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
    let nodes = object?["nodes"] as? [[String: Any]]
    #expect(nodes?.first?["name"] as? String == "n1", "\(output)")
    #expect(object?["sets"] as? [Any] != nil)
    await scheduler.stop()
  }
}
