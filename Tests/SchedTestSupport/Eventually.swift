import Foundation
@_exported import ModelFixtures
import Synchronization

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(
  timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(50),
  _ condition: () async throws -> Bool
) async rethrows -> Bool {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if try await condition() { return true }
    try? await Task.sleep(for: interval)
  }
  return try await condition()
}

/// The ports `freePort()` hands out: below the kernel's ephemeral range (32768 and up on Linux),
/// where every outgoing connection takes its local port, and below the 20000-29999 the tests give
/// agents for containers. A port picked from the ephemeral range could be taken by any client's
/// connect between the pick and the listener's bind (CI saw "Address already in use" so).
private let testListenPorts = 10_000..<20_000

/// The next candidate in `testListenPorts`: one counter per test process, started at a place
/// drawn from the pid so two runs on one machine seldom walk the same ports.
private let nextTestPort = Mutex(
  testListenPorts.lowerBound + Int(getpid()) % testListenPorts.count)

/// A port on 127.0.0.1 that was free a moment ago, never the same twice in one run (until all
/// 10,000 have been handed out), and out of the range outgoing connections draw from.
public func freePort() -> Int {
  for _ in 0..<testListenPorts.count {
    let port = nextTestPort.withLock { next in
      defer {
        next = next + 1 < testListenPorts.upperBound ? next + 1 : testListenPorts.lowerBound
      }
      return next
    }
    if canBind(port: port) { return port }
  }
  fatalError("no free port on 127.0.0.1 in \(testListenPorts)")
}

/// Whether a socket can bind 127.0.0.1:`port` now (nothing listens there or holds it).
private func canBind(port: Int) -> Bool {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = in_port_t(UInt16(port).bigEndian)
  return withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
    }
  }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
public func acceptsConnections(port: Int) -> Bool {
  guard let fd = connectLoopback(port: port, readTimeout: 1) else { return false }
  close(fd)
  return true
}

/// A fresh directory for one test, inside this test run's folder.
public func temporaryDirectory(_ name: String = "turnout") -> URL {
  let url = testRunFolder.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
  try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// `turnout-tests-PID` under the system temp dir: every test directory of this run (state
/// databases, logs of the processes a test started) is in it. Made on first use, when the
/// folders of earlier runs whose process is gone are removed: a run's folder stays for reading
/// its logs until the next run starts.
private let testRunFolder: URL = {
  let files = FileManager.default
  let base = files.temporaryDirectory
  let prefix = "turnout-tests-"
  for name in (try? files.contentsOfDirectory(atPath: base.path)) ?? []
  where name.hasPrefix(prefix) {
    guard let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH
    else { continue }
    try? files.removeItem(at: base.appendingPathComponent(name))
  }
  let folder = base.appendingPathComponent("\(prefix)\(getpid())")
  try! files.createDirectory(at: folder, withIntermediateDirectories: true)
  return folder
}()
