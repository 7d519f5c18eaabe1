import Foundation
import SchedTestSupport

/// Several hosts on this machine through `scripts/testhosts`: network namespaces th1...thN on
/// the bridge turnout-br0 (10.91.0.0/24, the root side at 10.91.0.1), each with its own Docker
/// engine. The scheduler listens on the root side; agents run inside the hosts.
struct TestHosts {
  static let rootAddress = "10.91.0.1"
  let names: [String]

  /// Whether this machine can make test hosts: root, nsenter, iproute2 and dockerd.
  static var available: Bool {
    getuid() == 0
      && ["/usr/bin/nsenter", "/usr/sbin/ip", "/usr/sbin/dockerd"].allSatisfy {
        FileManager.default.isExecutableFile(atPath: $0)
      }
  }

  static var script: URL {
    var root = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { root.deleteLastPathComponent() }
    return root.appendingPathComponent("scripts/testhosts")
  }

  /// Takes down whatever test hosts are left, then brings up `count` fresh ones.
  static func up(_ count: Int) async throws -> TestHosts {
    try await Self.run(["down"])
    try await Self.run(["up", "\(count)"])
    return TestHosts(names: (1...count).map { "th\($0)" })
  }

  /// Takes every test host down; waits on a Dispatch thread, so a `defer` may call it.
  func down() {
    DispatchQueue.global().sync {
      _ = try? runToEnd(URL(fileURLWithPath: "/bin/bash"), [Self.script.path, "down"])
    }
  }

  static func run(_ arguments: [String]) async throws {
    let result = try await SchedTestSupport.run(
      URL(fileURLWithPath: "/bin/bash"), [script.path] + arguments)
    guard result.status == 0 else {
      throw HarnessError("scripts/testhosts \(arguments.joined(separator: " ")): \(result.output)")
    }
  }

  static func address(_ host: String) -> String { "10.91.0.\(10 + Int(host.dropFirst(2))!)" }
  static func socket(_ host: String) -> String { "/run/turnout-testhosts/\(host)/docker.sock" }

  /// Runs the docker CLI against `host`'s engine; returns its exit status and output.
  static func docker(_ host: String, _ arguments: [String]) throws -> (
    status: Int32, output: String
  ) {
    try runToEnd(
      URL(fileURLWithPath: "/usr/bin/docker"), arguments,
      environment: ProcessInfo.processInfo.environment.merging([
        "DOCKER_HOST": "unix://\(socket(host))"
      ]) { $1 })
  }

  /// The id (config digest) of `image` in this machine's engine.
  static func imageID(_ image: String) async throws -> String {
    let result = try await SchedTestSupport.run(
      URL(fileURLWithPath: "/usr/bin/docker"), ["image", "inspect", "-f", "{{.Id}}", image])
    guard result.status == 0 else { throw HarnessError("inspecting \(image): \(result.output)") }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The sizes of the layers of `image` that `base` does not have, as uncompressed tar: what
  /// a node holding `base` must fetch.
  static func newLayers(_ image: String, since base: String) async throws -> [Int64] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "layers-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let script = """
      set -e; mkdir -p \(directory.path); cd \(directory.path)
      docker image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' \(base) > base
      docker save \(image) | tar x
      python3 -c '
      import json, hashlib
      base = set(open("base").read().split())
      entry = json.load(open("manifest.json"))[0]
      for path in entry["Layers"]:
          data = open(path, "rb").read()
          if "sha256:" + hashlib.sha256(data).hexdigest() not in base:
              print(len(data))
      '
      """
    let result = try await SchedTestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
    guard result.status == 0 else { throw HarnessError("layers of \(image): \(result.output)") }
    return result.output.split(separator: "\n").compactMap { Int64($0) }
  }
}

extension ProcessCluster {
  /// schedd with its cluster port on the test hosts' side of the bridge.
  func scheddForHosts(_ extra: [String] = []) -> ManagedProcess {
    ManagedProcess(
      "schedd",
      [
        "--db", workDir.appendingPathComponent("state.db").path,
        "--cluster-listen", "\(TestHosts.rootAddress):\(clusterPort)",
        "--api-listen", "127.0.0.1:\(apiPort)", "--heartbeat-interval", heartbeat,
      ] + extra,
      logDirectory: workDir,
      environment: [
        "TURNOUT_JOIN_TOKEN": Self.joinToken, "TURNOUT_API_TOKEN": Self.apiToken,
        "TURNOUT_ROUTER_TOKEN": Self.routerToken,
      ])
  }

  /// A sched-agent inside test host `host`, on its own engine, advertising its own address.
  func agent(onHost host: String, ports: String = "20000-20999", extra: [String] = [])
    -> ManagedProcess
  {
    ManagedProcess(
      "agent-\(host)",
      [
        "--scheduler", "\(TestHosts.rootAddress):\(clusterPort)", "--token",
        token(Self.joinToken),
        "--name", host, "--advertise", TestHosts.address(host),
        "--docker-socket", TestHosts.socket(host), "--ports", ports, "--max-backoff", "1s",
      ] + extra,
      logDirectory: workDir, namespace: host)
  }
}
