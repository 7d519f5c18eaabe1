import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient

/// Exit codes scripts can rely on (sysexits where one fits).
enum Exit {
  static let failed: Int32 = 1
  static let doesNotFit: Int32 = 2
  static let dataError: Int32 = 65
  static let unavailable: Int32 = 69
  static let noPermission: Int32 = 77

  /// Says `message` on stderr and gives the exit code to throw.
  static func failure(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(code)
  }

  /// Runs `body`, turning client errors into a message on stderr and the matching exit code.
  static func guarding<T>(_ body: () async throws -> T) async throws -> T {
    do {
      return try await body()
    } catch let error as ClientError {
      FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
      switch error.code {
      case .unreachable, .interrupted: throw ExitCode(unavailable)
      case .unauthorized: throw ExitCode(noPermission)
      case .badRequest: throw ExitCode(dataError)
      case .refused, .server, .badResponse: throw ExitCode(failed)
      }
    }
  }
}

/// Reads that outlast a restart of the scheduler: while it cannot be reached (or does not
/// answer), the read is tried again every `every` until `deadline`; other failures at once.
enum Patient {
  static func read<T>(
    until deadline: ContinuousClock.Instant, every: Duration = .milliseconds(500),
    onRetry: (ClientError) -> Void = { _ in }, _ body: () async throws -> T
  ) async throws -> T {
    while true {
      do {
        return try await body()
      } catch let error as ClientError where error.schedulerAway {
        guard ContinuousClock.now + every < deadline else { throw error }
        onRetry(error)
        try await Task.sleep(for: every)
      }
    }
  }
}

/// Writes JSON for scripts: sorted keys, pretty-printed.
func printJSON(_ value: some Encodable) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
  encoder.dateEncodingStrategy = .secondsSince1970
  print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
