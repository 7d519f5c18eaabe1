import AgentCore
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import SchedulerDaemon
import Testing

@Suite("Graphite sink")
struct GraphiteTests {
  @Test func plaintextLinesNameTheSeriesUnderThePrefix() {
    let text = GraphitePlaintext.lines(
      [
        Sample(series: "set/web/blue/requests", at: 1_700_000_000, value: 12.5),
        Sample(series: "node/rack-1.example/memory", at: 1_700_000_000, value: 2_097_152),
        Sample(series: "set/web/green/cpu", at: 1_700_000_010, value: .nan),
      ], prefix: "turnout")
    #expect(
      text == """
        turnout.set.web.blue.requests 12.5 1700000000
        turnout.node.rack-1_example.memory 2097152 1700000000

        """)
  }

  /// Debian's carbon (graphite-carbon) on 127.0.0.1 with its data in a temporary folder.
  static func carbon(port: Int) throws -> (Process, URL, URL) {
    let dir = temporaryDirectory("carbon")
    let data = dir.appendingPathComponent("data")
    try """
    [cache]
    STORAGE_DIR = \(dir.path)/
    LOCAL_DATA_DIR = \(data.path)/
    WHITELISTS_DIR = \(dir.path)/lists/
    CONF_DIR = \(dir.path)/
    LOG_DIR = \(dir.path)/log/
    PID_DIR = \(dir.path)/
    ENABLE_LOGROTATION = False
    ENABLE_TAGS = False
    USER =
    MAX_CACHE_SIZE = inf
    MAX_UPDATES_PER_SECOND = inf
    MAX_CREATES_PER_MINUTE = inf
    LINE_RECEIVER_INTERFACE = 127.0.0.1
    LINE_RECEIVER_PORT = \(port)
    ENABLE_UDP_LISTENER = False
    PICKLE_RECEIVER_INTERFACE = 127.0.0.1
    PICKLE_RECEIVER_PORT = \(freePort())
    CACHE_QUERY_INTERFACE = 127.0.0.1
    CACHE_QUERY_PORT = \(freePort())
    WHISPER_AUTOFLUSH = True
    """.write(to: dir.appendingPathComponent("carbon.conf"), atomically: true, encoding: .utf8)
    try "[all]\npattern = .*\nretentions = 1s:1h\n".write(
      to: dir.appendingPathComponent("storage-schemas.conf"), atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/carbon-cache")
    process.arguments = [
      "--config=\(dir.appendingPathComponent("carbon.conf").path)", "--nodaemon",
      "--pidfile=\(dir.appendingPathComponent("carbon.pid").path)", "start",
    ]
    let log = dir.appendingPathComponent("carbon.log")
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: log)
    process.standardError = process.standardOutput
    var environment = ProcessInfo.processInfo.environment
    environment["PYTHONUNBUFFERED"] = "1"
    process.environment = environment
    try process.run()
    return (process, data, log)
  }

  @Test(
    "schedd --graphite: carbon stores the sampled series",
    .enabled(
      if: FileManager.default.isExecutableFile(atPath: "/usr/bin/carbon-cache")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/whisper-fetch"),
      "no carbon-cache or whisper-fetch (scripts/test installs Debian's graphite-carbon)"))
  func carbonStoresTheSeries() async throws {
    // A port found free can be taken by another test's connection before carbon binds it:
    // start again on other ports until carbon itself says it listens on the line port (a
    // connection accepted proves nothing: the port's other owner accepts it too).
    var attempt = 0
    var port: Int
    var carbon: Process
    var data: URL
    var log: URL
    var listening = false
    repeat {
      attempt += 1
      port = freePort()
      (carbon, data, log) = try Self.carbon(port: port)
      let (process, logFile, line) = (carbon, log, "CarbonReceiverFactory starting on \(port)")
      listening = await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
        guard process.isRunning else { return true }
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.contains(line)
      }
      try? await Task.sleep(for: .milliseconds(300))
      listening = listening && carbon.isRunning && acceptsConnections(port: port)
      if !listening {
        kill(carbon.processIdentifier, SIGKILL)
        carbon.waitUntilExit()
      }
    } while !listening && attempt < 4
    let carbonLog = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    try #require(listening, "carbon-cache did not start listening: \(carbonLog())")
    defer {
      // carbon-cache can take its time over SIGTERM; nothing of it is needed any more.
      kill(carbon.processIdentifier, SIGKILL)
      carbon.waitUntilExit()
    }
    let (scheduler, agent) = try await InProcessScheduler.withDeployedWeb(
      sampleInterval: .milliseconds(1000), graphite: ("127.0.0.1", port))
    defer { agent.cancel() }
    // The fake runtime reports 1 MiB per container: the set's two make 2 MiB, in carbon too.
    let file = data.appendingPathComponent("turnout/set/web/blue/memory.wsp").path
    var fetched = ""
    #expect(
      await eventually(timeout: .seconds(60), every: .milliseconds(500)) {
        guard FileManager.default.fileExists(atPath: file) else { return false }
        let from = Int(Date().timeIntervalSince1970) - 120
        fetched =
          (try? await run(
            URL(fileURLWithPath: "/usr/bin/whisper-fetch"), ["--from=\(from)", file]
          ).output) ?? ""
        return fetched.split(separator: "\n").contains {
          $0.split(separator: "\t").last.flatMap { Double($0) } == 2_097_152
        }
      }, "whisper-fetch: \(fetched); carbon's log: \(carbonLog().suffix(3000))")
    #expect(
      FileManager.default.fileExists(
        atPath: data.appendingPathComponent("turnout/node/n1/cpu.wsp").path))
    await scheduler.stop()
  }
}
