import ClusterPKI
import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport

/// Ports, a state folder and tokens for one test's schedd and sched-agents as real processes.
struct ProcessCluster {
  static let joinToken = "jt-proc"
  static let apiToken = "api-proc"
  static let routerToken = "rt-proc"

  let heartbeat: String
  let workDir: URL
  let clusterPort = freePort()
  let apiPort = freePort()

  /// The cluster CA's fingerprint: the CA is made here, in `pki/` beside the database where
  /// schedd looks for it (as an operator restores one from a backup), so the whole join
  /// tokens are known before schedd first starts.
  let caFingerprint: String

  init(_ name: String, heartbeat: String = "300ms") {
    self.heartbeat = heartbeat
    self.workDir = temporaryDirectory(name)
    caFingerprint = try! PKIFiles.authority(
      in: workDir.appendingPathComponent("pki").path, now: Date()
    ).authority.fingerprint
  }

  /// The whole join token (TRN-1-...) for a secret, as `schedctl node join-command` prints it.
  func token(_ secret: String) -> String {
    JoinToken(caFingerprint: caFingerprint, secret: secret).description
  }

  func schedd(_ extra: [String] = []) -> ManagedProcess {
    ManagedProcess(
      "schedd",
      [
        "--db", workDir.appendingPathComponent("state.db").path,
        "--cluster-listen", "127.0.0.1:\(clusterPort)", "--api-listen", "127.0.0.1:\(apiPort)",
        "--heartbeat-interval", heartbeat,
      ] + extra,
      logDirectory: workDir,
      environment: [
        "TURNOUT_JOIN_TOKEN": Self.joinToken, "TURNOUT_API_TOKEN": Self.apiToken,
        "TURNOUT_ROUTER_TOKEN": Self.routerToken,
      ])
  }

  func agent(_ name: String, token: String = joinToken, ports: String, extra: [String] = [])
    -> ManagedProcess
  {
    ManagedProcess(
      "agent-\(name)",
      [
        "--scheduler", "127.0.0.1:\(clusterPort)", "--token", self.token(token), "--name", name,
        "--ports", ports, "--max-backoff", "1s",
      ] + extra,
      logDirectory: workDir)
  }

  /// A sched-router process with its state file in the work folder.
  /// `tlsPort`: an HTTPS listener too; `schedulerPort`: dial another port than this cluster's
  /// (one nothing listens on, for a router the scheduler never reaches).
  func router(
    _ name: String, port: Int, previewPort: Int? = nil, defaultApp: String? = nil,
    tlsPort: Int? = nil, schedulerPort: Int? = nil
  ) -> ManagedProcess {
    var arguments = [
      "--scheduler", "127.0.0.1:\(schedulerPort ?? clusterPort)", "--token",
      token(Self.routerToken),
      "--name", name,
      "--listen", "127.0.0.1:\(port)",
      "--state-file", workDir.appendingPathComponent("routes-\(name).json").path,
    ]
    if let previewPort { arguments += ["--preview-listen", "127.0.0.1:\(previewPort)"] }
    if let defaultApp { arguments += ["--default-app", defaultApp] }
    if let tlsPort { arguments += ["--tls-listen", "127.0.0.1:\(tlsPort)"] }
    return ManagedProcess("router-\(name)", arguments, logDirectory: workDir)
  }

  /// Runs Debian's docker CLI quietly; returns its exit status.
  static func docker(_ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/docker")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
  }

  /// Removes every container of `app` (any color, running or not) with Debian's docker CLI.
  /// Called once the test's agents are stopped, so none starts a replacement.
  static func removeContainers(of app: String) {
    let docker = URL(fileURLWithPath: "/usr/bin/docker")
    guard
      let listed = try? runToEnd(docker, ["ps", "-aq", "--filter", "label=turnout.app=\(app)"]),
      listed.status == 0
    else { return }
    let ids = listed.output.split(whereSeparator: \.isWhitespace).map(String.init)
    if !ids.isEmpty { _ = try? runToEnd(docker, ["rm", "-f"] + ids) }
  }

  /// The sample app as the process tests run it: 2 small slots, a quick health check, served
  /// by routers for `APP.test`.
  static func sampleSpec(_ app: String, maxPerNode: Int? = nil) -> AppSpec {
    AppSpec(
      name: app, image: "turnout-sample:1", slots: 2,
      resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20),
      health: HealthCheck(path: "/healthz", intervalMillis: 250, timeoutMillis: 500),
      maxPerNode: maxPerNode, hosts: ["\(app).test"])
  }

  var api: APIClient { APIClient(baseURL: "http://127.0.0.1:\(apiPort)", token: Self.apiToken) }

  /// Deploys `app`'s spec image as blue, then turnout-sample:2 as green, each waited for until
  /// ready (a deploy holds the app until its set settles); true when both are.
  func deployBlueThenGreen(_ app: String, timeout: Duration = .seconds(40)) async throws -> Bool {
    _ = try await api.deploy(app, image: nil)
    guard
      await eventually(
        timeout: timeout, { (try? await api.status(app))?.sets.first?.state == .ready })
    else { return false }
    _ = try await api.deploy(app, image: "turnout-sample:2")
    return await eventually(timeout: timeout) {
      guard let status = try? await api.status(app) else { return false }
      return status.sets.count == 2 && status.sets.allSatisfy { $0.state == .ready }
    }
  }

  /// Runs the built schedctl against this cluster; returns its exit code and all it printed.
  func schedctl(_ arguments: [String], env: [String: String] = [:], input: String? = nil)
    async throws -> (status: Int32, output: String)
  {
    try await run(
      ManagedProcess.binDirectory().appendingPathComponent("schedctl"), arguments,
      environment: ProcessInfo.processInfo.environment.merging([
        "TURNOUT_API": "http://127.0.0.1:\(apiPort)", "TURNOUT_API_TOKEN": Self.apiToken,
      ]) { $1 }.merging(env) { $1 }, input: input)
  }
}
