import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient

/// How output is written.
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
  case table
  case json
}

/// Flags every command shares: where the scheduler is, the token, the output format.
public struct GlobalOptions: ParsableArguments {
  @Option(
    name: .long,
    help: "Scheduler API URL (default: $TURNOUT_API, else http://127.0.0.1:7070).")
  var scheduler: String?

  @Option(name: .long, help: "API bearer token (default: $TURNOUT_API_TOKEN).")
  var token: String?

  @Option(name: .shortAndLong, help: "Output format: table for people, json for scripts.")
  var output: OutputFormat = .table

  public init() {}

  func client(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    timeout: Duration = .seconds(10)
  ) throws -> APIClient {
    let url = scheduler ?? environment["TURNOUT_API"] ?? "http://127.0.0.1:7070"
    guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
      throw ValidationError("--scheduler must be an http:// or https:// URL, got '\(url)'")
    }
    guard let token = token ?? environment["TURNOUT_API_TOKEN"], !token.isEmpty else {
      throw ValidationError(
        "no API token: pass --token or set TURNOUT_API_TOKEN to the token schedd was started with")
    }
    return APIClient(baseURL: url, token: token, timeout: timeout)
  }
}
