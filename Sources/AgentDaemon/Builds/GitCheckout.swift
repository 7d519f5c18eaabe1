import Foundation

/// A shallow checkout of one ref (branch, tag or commit) with the host's `git`, for a build
/// whose context is a repository.
enum GitCheckout {
  struct Failure: Error, CustomStringConvertible {
    let description: String
  }

  /// Checks out `ref` of `url` into `directory` (which must not exist yet).
  static func run(url: String, ref: String, into directory: String, timeout: Duration)
    async throws(Failure)
  {
    guard !url.hasPrefix("-"), !ref.hasPrefix("-") else {
      throw Failure(description: "a git URL or ref may not start with '-'")
    }
    try await git(["init", "-q", directory], timeout: timeout)
    try await git(
      ["-C", directory, "fetch", "-q", "--depth", "1", "--", url, ref], timeout: timeout)
    try await git(["-C", directory, "checkout", "-q", "FETCH_HEAD"], timeout: timeout)
  }

  private static func git(_ arguments: [String], timeout: Duration) async throws(Failure) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git"] + arguments
    var environment = ProcessInfo.processInfo.environment
    // Never wait on a password prompt: a build has no terminal.
    environment["GIT_TERMINAL_PROMPT"] = "0"
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch {
      throw Failure(description: "cannot run git (is it installed on the builder?): \(error)")
    }
    let watchdog = Task {
      try await Task.sleep(for: timeout)
      process.terminate()
    }
    // Read and wait on a thread of its own: a fetch may take minutes, and the agent's tasks
    // (its heartbeats) must not wait behind it.
    let data = await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        continuation.resume(returning: data)
      }
    }
    watchdog.cancel()
    guard process.terminationStatus == 0 else {
      let text = String(decoding: data.suffix(2000), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      throw Failure(
        description: "git \(arguments.first == "-C" ? arguments[2] : arguments[0]) failed: \(text)")
    }
  }
}
