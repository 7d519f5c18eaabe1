import Foundation
import Logging
import RouteTable
import SchedTestSupport
import Testing

@testable import RouterDaemon

#if canImport(Glibc)
  import Glibc
#endif

/// The listening sockets: shards on one address (one per event loop), and a socket that cannot
/// be sharded still served.
@Suite("Listener sockets")
struct ListenerSocketsTests {
  static func port(of fd: Int32) -> Int {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// The status code curl gets for `url` (a table with no app: the router's 404).
  static func status(_ url: String) async throws -> (status: Int32, output: String) {
    try await run(
      URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
  }

  /// Connections waiting in `fd`'s queue, accepted and closed.
  static func acceptAll(_ fd: Int32) -> Int {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var count = 0
    while true {
      let client = accept(fd, nil, nil)
      guard client >= 0 else { return count }
      close(client)
      count += 1
    }
  }

  @Test("a shard listens on the same port, and the kernel spreads new connections over both")
  func shardsShareThePort() throws {
    let first = try ListenerSockets.open(host: "127.0.0.1", port: 0)
    let second = try ListenerSockets.shard(of: first)
    defer {
      close(first)
      close(second)
    }
    let port = Self.port(of: first)
    #expect(port > 0)
    #expect(Self.port(of: second) == port)
    var clients: [Int32] = []
    defer { for fd in clients { close(fd) } }
    for _ in 0..<64 {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = UInt16(port).bigEndian
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      #expect(connected == 0)
      clients.append(fd)
    }
    let onFirst = Self.acceptAll(first)
    let onSecond = Self.acceptAll(second)
    #expect(onFirst + onSecond == 64)
    #expect(onFirst > 0)
    #expect(onSecond > 0)
  }

  @Test("the router opens a shard per event loop; a socket without port reuse is served alone")
  func routerShards() async throws {
    let dir = temporaryDirectory("listeners")
    let file = dir.appendingPathComponent("routes.json").path
    try TableFile(path: file).write(RouteTable(epoch: 1, apps: []))
    var logger = Logger(label: "test.listeners")
    logger.logLevel = .warning
    let config = RouterConfig(
      name: "test", schedulerHost: nil, listenPort: 0, stateFile: file, threads: 2)
    let sharded = try await Router.start(config: config, logger: logger)
    #expect(sharded.proxy.listenerFDs[ListenerSockets.live]?.count == 2)
    let task = Task { try await sharded.run() }
    let answer = try await Self.status("http://127.0.0.1:\(sharded.proxy.port)/")
    #expect(answer.output == "404")
    task.cancel()
    _ = await task.result

    // A socket made without SO_REUSEPORT (a systemd socket without ReusePort=yes).
    let plain = try #require(EpollLoopTests.boundNotListening()).fd
    #expect(listen(plain, 16) == 0)
    var inheriting = config
    inheriting.inheritedListeners = [ListenerSockets.live: [plain]]
    let single = try await Router.start(config: inheriting, logger: logger)
    #expect(single.proxy.listenerFDs[ListenerSockets.live] == [plain])
    let singleTask = Task { try await single.run() }
    let port = Self.port(of: plain)
    for _ in 0..<4 {
      let reply = try await Self.status("http://127.0.0.1:\(port)/")
      #expect(reply.output == "404")
    }
    singleTask.cancel()
    _ = await singleTask.result
  }

  @Test("a port another router listens on is refused, not shared")
  func takenPortRefused() throws {
    let first = try ListenerSockets.open(host: "127.0.0.1", port: 0)
    defer { close(first) }
    let port = Self.port(of: first)
    #expect(throws: RouterError.self) { try ListenerSockets.open(host: "127.0.0.1", port: port) }
    do {
      _ = try ListenerSockets.open(host: "127.0.0.1", port: port)
    } catch {
      #expect("\(error)".contains("pick a free address"), "\(error)")
    }
  }
}
