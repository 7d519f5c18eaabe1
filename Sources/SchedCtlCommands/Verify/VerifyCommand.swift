import ArgumentParser
import Foundation
import OperatorAPI
import SchedModel

/// `schedctl verify APP`: check the candidate set before production.
struct VerifyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Check the candidate set before a switch: its tests, then every slot.",
    usage: "schedctl verify <app> [--show] [<global options>]",
    discussion: """
      Resolves the image the candidate slots run to its digest and runs each of the app's \
      tests (spec `tests:`) in a throwaway container of exactly that digest, with its \
      companions on a private network, on a node with room for it; then runs each check (spec \
      `checks:`, or the health path when there are none) against every candidate slot directly \
      and through every router's preview listener, confirming from the stamps that the \
      candidate answered. Progress is printed as it happens; the result is stored against the \
      digest, and `schedctl switch` refuses a candidate without a pass. \
      Exits 0 when everything passed, 1 when something failed or it could not start.

        schedctl verify web          run it and follow it
        schedctl verify web --show   the stored result for the candidate's image
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  @Flag(help: "Show the latest result for the candidate's image instead of running.")
  var show = false

  func run() async throws {
    let client = try global.client()
    if show {
      let result = try await Exit.guarding { try await client.latestVerification(app) }
      try VerifyOutput.summary(result, global: global)
      if result.state == .failed { throw ExitCode(Exit.failed) }
      return
    }
    var current = try await Exit.guarding { try await client.verify(app) }
    if global.output == .table {
      print(
        "verifying \(app): \(current.color.rawValue) set, deployment \(current.deployment), \(current.image) = \(current.digest) [\(current.id)]"
      )
    }
    var printed = 0
    var announced = -1
    while true {
      if global.output == .table {
        // A finished step once; the running one announced once.
        while printed < current.steps.count, current.steps[printed].state != .running {
          print(VerifyOutput.line(current.steps[printed]))
          printed += 1
        }
        if printed < current.steps.count, announced < printed {
          let step = current.steps[printed]
          print("  ... \(step.kind.rawValue) \(step.name) on \(step.target)")
          announced = printed
        }
      }
      if current.state != .running { break }
      try await Task.sleep(for: .milliseconds(250))
      let id = current.id
      current = try await Exit.guarding { try await client.verification(app, id: id) }
    }
    switch global.output {
    case .json: try printJSON(current)
    case .table:
      print(
        current.state == .passed
          ? "passed: \(current.steps.count) step(s); \(app) may switch to \(current.deployment)"
          : "failed: \(current.summary ?? "see above")")
    }
    if current.state == .failed { throw ExitCode(Exit.failed) }
  }
}

enum VerifyOutput {
  static func line(_ step: VerifyStep) -> String {
    let mark = step.state == .passed ? "ok  " : step.state == .failed ? "FAIL" : "... "
    let time = step.durationMillis.map { " (\($0) ms)" } ?? ""
    var out =
      "  \(mark) \(step.kind.rawValue) \(step.name) on \(step.target)\(time): \(step.detail ?? "")"
    if step.state == .failed, let output = step.output, !output.isEmpty {
      let trimmed = output.hasSuffix("\n") ? String(output.dropLast()) : output
      let tail = trimmed.split(separator: "\n", omittingEmptySubsequences: false).suffix(10)
      out += "\n" + tail.map { "       | \($0)" }.joined(separator: "\n")
    }
    return out
  }

  static func summary(_ result: Verification, global: GlobalOptions) throws {
    switch global.output {
    case .json: try printJSON(result)
    case .table:
      let finished = result.finishedAt.map { " finished \($0)" } ?? " still running"
      print(
        "\(result.id) of \(result.app): \(result.state.rawValue); \(result.color.rawValue) set, deployment \(result.deployment), \(result.image) = \(result.digest); by \(result.actor), started \(result.startedAt)\(finished)"
      )
      for step in result.steps { print(line(step)) }
      if let summary = result.summary { print("failed: \(summary)") }
    }
  }
}
