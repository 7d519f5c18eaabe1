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

  @Option(
    name: .long,
    help: ArgumentHelp(
      "CA certificate (PEM) an https:// scheduler's certificate must chain to (default: $TURNOUT_CA_FILE, else the system's).",
      discussion:
        "For schedd --api-https, the cluster CA: pki/ca.pem beside schedd's database."))
  var caFile: String?

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
        "no API token: pass --token or set TURNOUT_API_TOKEN to an API token (schedd's --api-token, or one from schedctl token create)"
      )
    }
    let caFile = caFile ?? environment["TURNOUT_CA_FILE"]
    if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
      throw ValidationError(
        "cannot read --ca-file \(caFile): give the PEM file of the CA that signed the scheduler's certificate (for --api-https, pki/ca.pem beside schedd's database)"
      )
    }
    return APIClient(baseURL: url, token: token, timeout: timeout, caFile: caFile)
  }
}
