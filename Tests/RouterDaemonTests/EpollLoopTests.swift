import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RouteTable
import SchedModel
import Testing

@testable import RouterDaemon

#if canImport(Glibc)
  import Glibc
#endif

@Suite("the router's own event loop: tasks, timers, sockets", .timeLimit(.minutes(1)))
struct EpollLoopTests {
  @Test("timers come up in deadline order; a cancelled one never does")
  func timerOrder() {
    var queue = TimerQueue()
    var ran: [Int] = []
    let start = NIODeadline.uptimeNanoseconds(1_000_000)
    for (id, offset) in [(1, 50), (2, 10), (3, 30), (4, 20), (5, 40)] {
      queue.add(id: id, at: start + .milliseconds(Int64(offset))) { ran.append(id) }
    }
    let first = queue.cancel(3)
    let second = queue.cancel(3)
    #expect(first && !second)
    let earliest = queue.earliest
    #expect(earliest == start + .milliseconds(10))
    let none = queue.takeDue(now: start)
    #expect(none == nil)
    for job in queue.takeDue(now: start + .milliseconds(25)) ?? [] { job() }
    #expect(ran == [2, 4])
    for job in queue.takeDue(now: start + .milliseconds(100)) ?? [] { job() }
    #expect(ran == [2, 4, 5, 1])
    let after = queue.earliest
    #expect(after == nil)
  }

  @Test("the earliest timer stays right when the one found live at the top is cancelled")
  func earliestAfterCancellingTheTop() {
    var queue = TimerQueue()
    let start = NIODeadline.uptimeNanoseconds(1_000_000)
    queue.add(id: 1, at: start + .milliseconds(10)) {}
    queue.add(id: 2, at: start + .milliseconds(20)) {}
    var earliest = queue.earliest
    #expect(earliest == start + .milliseconds(10))
    earliest = queue.earliest
    #expect(earliest == start + .milliseconds(10))
    let cancelledTop = queue.cancel(1)
    #expect(cancelledTop)
    earliest = queue.earliest
    #expect(earliest == start + .milliseconds(20))
    queue.add(id: 3, at: start + .milliseconds(5)) {}
    earliest = queue.earliest
    #expect(earliest == start + .milliseconds(5))
    let cancelledNew = queue.cancel(3)
    let cancelledLast = queue.cancel(2)
    #expect(cancelledNew && cancelledLast)
    earliest = queue.earliest
    #expect(earliest == nil)
  }

  @Test("a task from another thread runs on the loop; a scheduled one after its delay")
  func tasksAndTimers() async throws {
    let loop = try EpollLoop(name: "test-loop")
    #expect(!loop.inEventLoop)
    let onLoop = try await loop.submit { loop.inEventLoop }.get()
    #expect(onLoop)
    let clock = ContinuousClock()
    let start = clock.now
    let fired = try await loop.scheduleTask(in: .milliseconds(50)) { clock.now - start }
      .futureResult
      .get()
    #expect(fired >= .milliseconds(50))
    let cancelled = loop.scheduleTask(in: .milliseconds(30)) {
      Issue.record("a cancelled task ran")
    }
    cancelled.cancel()
    await #expect(throws: EventLoopError.self) { try await cancelled.futureResult.get() }
    try await Task.sleep(for: .milliseconds(60))
    try await loop.shutdownGracefully()
  }

  @Test("a repeated task and futures work on it as on SwiftNIO's loops")
  func repeated() async throws {
    let loop = try EpollLoop(name: "test-loop")
    let count = NIOLockedValueBox(0)
    let done = loop.makePromise(of: Void.self)
    let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(5), delay: .milliseconds(5)) {
      _ in
      if count.withLockedValue({
        $0 += 1; return $0
      }) == 3 {
        done.succeed(())
      }
    }
    try await done.futureResult.get()
    task.cancel()
    #expect(count.withLockedValue { $0 } >= 3)
    try await loop.shutdownGracefully()
  }

  /// Everything a socket told its owner.
  final class Recorder: LoopSocketOwner {
    var read = ByteBuffer()
    var batches = 0
    var writability: [Bool] = []
    var closed = 0
    weak var socket: LoopSocket?
    func socketRead(_ bytes: ByteBuffer) {
      var bytes = bytes
      read.writeBuffer(&bytes)
    }
    func socketReadComplete() { batches += 1 }
    func socketWritabilityChanged() { writability.append(socket?.isWritable ?? false) }
    func socketClosed() { closed += 1 }
  }

  /// A connected pair of nonblocking stream sockets.
  static func pair() -> (Int32, Int32) {
    var fds: [Int32] = [0, 0]
    let made = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
    precondition(made == 0)
    for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    return (fds[0], fds[1])
  }

  /// Runs `body` on the loop and waits for it.
  static func on<T>(_ loop: EpollLoop, _ body: @escaping () -> T) async throws -> T {
    let box = UnsafeTransfer(body)
    return try await loop.submit { UnsafeTransfer(box.value()) }.get().value
  }

  /// Polls `condition` on the loop until it holds or 5 s pass.
  static func until(_ loop: EpollLoop, _ condition: @escaping () -> Bool) async throws -> Bool {
    for _ in 0..<500 {
      if try await on(loop, condition) { return true }
      try await Task.sleep(for: .milliseconds(10))
    }
    return false
  }

  @Test("reads reach the owner, paused reads wait, the peer's close is told once")
  func reading() async throws {
    let loop = try EpollLoop(name: "test-loop")
    let (mine, theirs) = Self.pair()
    // Closed once, here or below: a second close would close a descriptor some other test
    // opened since.
    var theirsOpen = true
    defer { if theirsOpen { close(theirs) } }
    let recorder = Recorder()
    let socket = try await Self.on(loop) { () -> LoopSocket in
      let socket = LoopSocket(fd: mine, loop: loop)
      socket.owner = recorder
      recorder.socket = socket
      return socket
    }
    _ = "hello".withCString { write(theirs, $0, 5) }
    #expect(try await Self.until(loop) { recorder.read.readableBytes == 5 })
    #expect(try await Self.on(loop) { recorder.batches } >= 1)
    try await Self.on(loop) { socket.setReading(false) }
    _ = " world".withCString { write(theirs, $0, 6) }
    try await Task.sleep(for: .milliseconds(100))
    #expect(try await Self.on(loop) { recorder.read.readableBytes } == 5)
    try await Self.on(loop) { socket.setReading(true) }
    #expect(try await Self.until(loop) { String(buffer: recorder.read) == "hello world" })
    close(theirs)
    theirsOpen = false
    #expect(try await Self.until(loop) { recorder.closed == 1 })
    #expect(try await Self.on(loop) { socket.isOpen } == false)
    try await loop.shutdownGracefully()
  }

  @Test("writes past 64 KiB make the socket unwritable until the peer takes them; all arrive")
  func backPressure() async throws {
    let loop = try EpollLoop(name: "test-loop")
    let (mine, theirs) = Self.pair()
    defer { close(theirs) }
    let recorder = Recorder()
    let total = 4 * 1024 * 1024
    let socket = try await Self.on(loop) { () -> LoopSocket in
      let socket = LoopSocket(fd: mine, loop: loop)
      socket.owner = recorder
      recorder.socket = socket
      var part = ByteBuffer()
      part.writeRepeatingByte(UInt8(ascii: "x"), count: 64 * 1024)
      for _ in 0..<(total / part.readableBytes) { socket.write(part) }
      socket.flush()
      return socket
    }
    #expect(try await Self.on(loop) { socket.isWritable } == false)
    #expect(try await Self.on(loop) { recorder.writability } == [false])
    var received = 0
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    let deadline = ContinuousClock.now + .seconds(10)
    while received < total, ContinuousClock.now < deadline {
      let count = read(theirs, &chunk, chunk.count)
      if count > 0 {
        #expect(chunk[0..<count].allSatisfy { $0 == UInt8(ascii: "x") })
        received += count
      } else {
        try await Task.sleep(for: .milliseconds(1))
      }
    }
    #expect(received == total)
    #expect(try await Self.until(loop) { socket.isWritable })
    #expect(try await Self.on(loop) { recorder.writability } == [false, true])
    try await Self.on(loop) {
      socket.write(ByteBuffer(string: "bye"))
      socket.flushThenClose()
    }
    #expect(try await Self.until(loop) { recorder.closed == 1 })
    var last = [UInt8](repeating: 0, count: 8)
    var tail = 0
    for _ in 0..<100 where tail < 3 {
      let count = read(theirs, &last[tail], 8 - tail)
      if count > 0 { tail += count } else { try await Task.sleep(for: .milliseconds(5)) }
    }
    #expect(String(decoding: last[0..<tail], as: UTF8.self) == "bye")
    try await loop.shutdownGracefully()
  }

  @Test(
    "a connect to a listener succeeds, to a closed port fails; a name that does not resolve is refused"
  )
  func connecting() async throws {
    let loop = try EpollLoop(name: "test-loop")
    let listening = try ListenerSockets.open(host: "127.0.0.1", port: 0)
    let port = try #require(ListenerSockets.port(of: listening))
    let upstream = Upstream(
      slot: SlotID(app: "web", color: .blue, index: 0), address: "127.0.0.1", port: port)
    let handler = try await loop.flatSubmit {
      EpollConnector.connect(upstream, on: loop, timeout: .seconds(2)).map { UnsafeTransfer($0) }
    }.get().value
    #expect(try await Self.on(loop) { handler.isOpen })
    try await Self.on(loop) { handler.close() }
    close(listening)
    // A port bound but not listening refuses, and stays ours: a port just closed may be
    // taken by a test running beside this one.
    let bound = try #require(Self.boundNotListening())
    defer { close(bound.fd) }
    let closedPort = Upstream(slot: upstream.slot, address: "127.0.0.1", port: bound.port)
    let connected = try await loop.flatSubmit {
      EpollConnector.connect(closedPort, on: loop, timeout: .seconds(2)).map { _ in true }
        .recover { _ in false }
    }.get()
    #expect(connected == false)
    #expect(EpollConnector.address("no-such-host.invalid", port: 80) == nil)
    try await loop.shutdownGracefully()
  }

  /// A TCP socket bound to a free port of 127.0.0.1 without listening: connects to it are
  /// refused.
  static func boundNotListening() -> (fd: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, let port = ListenerSockets.port(of: fd) else {
      close(fd)
      return nil
    }
    return (fd, port)
  }
}
