import Foundation
import SchedModel
import SchedTestSupport
import Testing

@testable import SchedCtlCommands

/// Issue 14.15 to 14.19: what users of a command-line tool check first.
@Suite("Conventions: --version, --help at 80 columns, unknown commands, -o json")
struct ConventionsTests {
  static let programs = ["schedd", "sched-agent", "sched-router", "schedctl"]
  static let verbs = [
    "nodes", "placement", "plan", "app", "app apply", "app list", "deploy", "status", "verify",
    "switch", "rollback", "retire", "routers", "stop-set", "events", "top",
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
    var pages: [(String, String)] = []
    for program in Self.programs { pages.append((program, "")) }
    for verb in Self.verbs { pages.append(("schedctl", verb)) }
    for (program, words) in pages {
      let narrow = try await Self.help(program, words, columns: 80)
      #expect(narrow.contains("USAGE:"), "\(program) \(words): \(narrow)")
      for line in narrow.split(separator: "\n") where line.count > 80 {
        Issue.record("\(program) \(words) --help has a line of \(line.count): \(line)")
      }
      // Examples (indented lines) must never need wrapping: at any width they read the same.
      let wide = try await Self.help(program, words, columns: 400)
      let described = wide.components(separatedBy: "USAGE:")[0]
      for line in described.split(separator: "\n") where line.hasPrefix(" ") && line.count > 80 {
        Issue.record("\(program) \(words): an example line of \(line.count) gets wrapped: \(line)")
      }
    }
  }

  @Test("the spec example in app apply --help is a valid spec, as printed at 80 columns")
  func specExampleParses() async throws {
    let page = try await Self.help("schedctl", "app apply", columns: 80)
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
    for arguments in [["deploy", "web"], ["app", "apply", "x.yaml"], ["--help"], ["help", "deploy"], []] {
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
