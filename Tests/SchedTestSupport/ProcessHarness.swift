import Foundation

/// Runs the built executables as real processes, for tests that kill and restart them.
/// Not Sendable: each test drives its processes from its own task.
public final class ManagedProcess {
  public let name: String
  public let arguments: [String]
  public let logURL: URL
  private var process: Process?
  private let environment: [String: String]
  /// The network namespace (a test host) the process runs in; nil: the test's own.
  public let namespace: String?
  /// A program outside the build folder (like /usr/bin/pebble), by its path.
  private let program: String?

  public init(
    _ name: String, _ arguments: [String], logDirectory: URL, environment: [String: String] = [:],
    namespace: String? = nil, program: String? = nil
  ) {
    self.name = name
    self.program = program
    self.arguments = arguments
    self.namespace = namespace
    var environment = environment
    // An agent keeps the cluster it joined in its state directory: one per process of a test,
    // kept across its restarts, never the host's /var/lib/turnout.
    if name.hasPrefix("agent"), environment["TURNOUT_STATE_DIR"] == nil {
      environment["TURNOUT_STATE_DIR"] =
        logDirectory.appendingPathComponent("\(name)-state-\(UUID().uuidString.prefix(6))").path
    }
    self.environment = environment
    self.logURL = logDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(6)).log")
  }

  /// The folder holding `schedd`, `sched-agent` and `schedctl`: $TURNOUT_BIN_DIR, or the build
  /// folder next to the test bundle.
  public static func binDirectory() throws -> URL {
    if let dir = ProcessInfo.processInfo.environment["TURNOUT_BIN_DIR"] {
      return URL(fileURLWithPath: dir)
    }
    var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    var root = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { root.deleteLastPathComponent() }
    candidates.append(root.appendingPathComponent(".build/debug"))
    for candidate in candidates
    where FileManager.default.isExecutableFile(
      atPath: candidate.appendingPathComponent("schedd").path)
    {
      return candidate
    }
    throw HarnessError(
      "cannot find the schedd executable near \(candidates.map(\.path)); run `swift build` first or set TURNOUT_BIN_DIR"
    )
  }

  public func start() throws {
    let process = Process()
    let program =
      try self.program.map { URL(fileURLWithPath: $0) }
      ?? Self.binDirectory().appendingPathComponent(executable)
    if let namespace {
      // nsenter execs the program in the namespace: the pid is the program's. (`ip netns exec`
      // would remount /sys.)
      process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
      process.arguments = ["--net=/var/run/netns/\(namespace)", program.path] + arguments
    } else {
      process.executableURL = program
      process.arguments = arguments
    }
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    process.environment = env
    _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
    let log = try FileHandle(forWritingTo: logURL)
    log.seekToEndOfFile()
    process.standardOutput = log
    process.standardError = log
    try process.run()
    self.process = process
  }

  private var executable: String {
    if name.hasPrefix("schedd") { return "schedd" }
    if name.hasPrefix("agent") { return "sched-agent" }
    if name.hasPrefix("router") { return "sched-router" }
    return name
  }

  public var pid: Int32? { process?.processIdentifier }
  public var isRunning: Bool { process?.isRunning ?? false }

  /// Sends `signal` and waits for the process to exit, up to `grace`; one still running then
  /// (a signal that came before its handler was in place is lost) is killed. Bounded: it is
  /// called from `defer`, on a thread other tests need.
  public func kill(_ signal: Int32 = SIGKILL, grace: Duration = .seconds(5)) {
    guard let process, process.isRunning else { return }
    Foundation.kill(process.processIdentifier, signal)
    let deadline = ContinuousClock.now + grace
    while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
    if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }

  /// Waits for the process to exit on its own, up to `timeout`; returns its exit code.
  public func waitForExit(timeout: Duration) async -> Int32? {
    guard let process else { return nil }
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(20))
    }
    return process.isRunning ? nil : process.terminationStatus
  }

  public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

  deinit { kill() }
}

public struct HarnessError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
