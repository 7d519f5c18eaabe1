import Foundation

/// Runs a program to its end on a Dispatch thread, not one of the few threads async tests
/// share (a browser test or a `deploy --timeout 60s` would hold one for seconds); returns its
/// exit status and all it printed (stdout and stderr). `input` is its standard input.
public func run(
  _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
  input: String? = nil
) async throws -> (status: Int32, output: String) {
  try await withCheckedThrowingContinuation { continuation in
    DispatchQueue.global().async {
      continuation.resume(
        with: Result {
          try runToEnd(executable, arguments, environment: environment, input: input)
        })
    }
  }
}

/// Runs a program to its end, blocking the calling thread; for quick checks outside async code.
public func runToEnd(
  _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
  input: String? = nil
) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  if let environment { process.environment = environment }
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  let stdin = Pipe()
  if input != nil { process.standardInput = stdin }
  try process.run()
  if let input {
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
  }
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
