import CEpoll
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// What an `EpollLoop` wakes when a descriptor it watches is ready. Called on the loop.
protocol LoopWatcher: AnyObject {
  func ready(readable: Bool, writable: Bool, hangup: Bool)
}

/// An event loop of the router's own over epoll, for plain HTTP/1.1: one thread, the
/// descriptors it watches (level-triggered; a socket is added once and changed only when its
/// reads are paused or a write must wait), tasks handed in from other threads through an
/// eventfd, and timers. It is a SwiftNIO `EventLoop`, so futures, `NIOLoopBound` and the
/// router's `LoopContext` work on it unchanged; what it leaves out is NIO's `Channel` and its
/// pipeline, which were half of a proxied request's instructions (BENCHMARKS.md, issue 21).
final class EpollLoop: EventLoop, @unchecked Sendable {
  private let epoll: Int32
  private let wakeFD: Int32
  private let owner = Atomic<UInt>(0)
  /// Tasks from other threads, and whether the loop was woken for them.
  private let inbox = NIOLockedValueBox<(tasks: [@Sendable () -> Void], woken: Bool)>(([], false))
  private let finished = ConditionLock(value: 0)

  // The rest is the loop thread's alone.
  private var local: [() -> Void] = []
  private var entries: [Entry] = []
  private var free: [Int] = []
  private var timers = TimerQueue()
  private var stopping = false
  /// Storage reads land in, handed on as a `ByteBuffer`; reused when its reader let go of it.
  var readBuffer = ByteBuffer()

  private struct Entry {
    var watcher: (any LoopWatcher)?
    var generation: UInt32 = 0
  }

  /// Starts the loop's thread, named `name`.
  init(name: String) throws(RouterError) {
    epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
    wakeFD = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
    guard epoll >= 0, wakeFD >= 0 else {
      throw RouterError(.bind, "cannot make an event loop: \(ListenerSockets.errnoText())")
    }
    var event = epoll_event()
    event.events = EPOLLIN.rawValue
    event.data.u64 = UInt64.max
    _ = epoll_ctl(epoll, EPOLL_CTL_ADD, wakeFD, &event)
    readBuffer = ByteBufferAllocator().buffer(capacity: 16 * 1024)
    let started = ConditionLock(value: 0)
    // Named from inside the thread (Foundation's name does not reach the thread on Linux):
    // what `top -H` and `ps -L` show, its first 15 bytes.
    let thread = Thread { [self] in
      _ = cepoll_name_thread(name)
      owner.store(pthread_self(), ordering: .releasing)
      started.lock()
      started.unlock(withValue: 1)
      run()
    }
    thread.stackSize = 1 << 20
    thread.start()
    started.lock(whenValue: 1)
    started.unlock()
  }

  // MARK: EventLoop

  var inEventLoop: Bool {
    owner.load(ordering: .acquiring) == pthread_self()
  }

  func execute(_ task: @escaping @Sendable () -> Void) {
    if inEventLoop {
      local.append(task)
      return
    }
    let wake = inbox.withLockedValue { inbox -> Bool in
      inbox.tasks.append(task)
      defer { inbox.woken = true }
      return !inbox.woken
    }
    if wake {
      var one: UInt64 = 1
      _ = Glibc.write(wakeFD, &one, 8)
    }
  }

  func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T)
    -> Scheduled<T>
  {
    let promise = makePromise(of: T.self)
    let id = TimerQueue.nextID()
    let job: () -> Void = {
      do { promise.assumeIsolated().succeed(try task()) } catch { promise.fail(error) }
    }
    if inEventLoop {
      timers.add(id: id, at: deadline, job)
    } else {
      let box = UnsafeTransfer(job)
      execute { self.timers.add(id: id, at: deadline, box.value) }
    }
    return Scheduled(promise: promise) {
      self.execute {
        if self.timers.cancel(id) { promise.fail(EventLoopError.cancelled) }
      }
    }
  }

  func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T)
    -> Scheduled<T>
  {
    scheduleTask(deadline: .now() + delay, task)
  }

  func preconditionInEventLoop(file: StaticString, line: UInt) {
    precondition(inEventLoop, "not on the event loop", file: file, line: line)
  }

  func preconditionNotInEventLoop(file: StaticString, line: UInt) {
    precondition(!inEventLoop, "on the event loop", file: file, line: line)
  }

  func shutdownGracefully(
    queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void
  ) {
    execute { self.stopping = true }
    DispatchQueue.global().async {
      self.finished.lock(whenValue: 1)
      self.finished.unlock()
      queue.async { callback(nil) }
    }
  }

  /// Runs `job` on the loop after `delay`; called on the loop. Returns the timer's id.
  func after(_ delay: TimeAmount, _ job: @escaping () -> Void) -> Int {
    let id = TimerQueue.nextID()
    timers.add(id: id, at: .now() + delay, job)
    return id
  }

  /// Drops a timer of `after` that has not run; called on the loop.
  func cancelTimer(_ id: Int) { _ = timers.cancel(id) }

  // MARK: watching descriptors

  /// Watches `fd` for reads (and writes when asked) until `unwatch`; returns its token.
  /// `exclusive`: one of the loops watching the same socket is woken, not all (a listening
  /// socket watched by every loop); such a watch is not `change`d, only taken out.
  func watch(
    _ fd: Int32, _ watcher: any LoopWatcher, read: Bool, write: Bool, exclusive: Bool = false
  ) -> UInt64 {
    let index: Int
    if let reused = free.popLast() {
      index = reused
    } else {
      index = entries.count
      entries.append(Entry())
    }
    entries[index].watcher = watcher
    let token = UInt64(entries[index].generation) << 32 | UInt64(index)
    var event = epoll_event()
    // EPOLLEXCLUSIVE takes only EPOLLIN and EPOLLOUT beside it (EPOLLRDHUP is refused).
    event.events =
      exclusive
      ? EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue : Self.mask(read: read, write: write)
    event.data.u64 = token
    let added = epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
    assert(added == 0, "epoll_ctl(ADD) failed: \(ListenerSockets.errnoText())")
    return token
  }

  /// Changes what `fd` is watched for.
  func change(_ fd: Int32, token: UInt64, read: Bool, write: Bool) {
    var event = epoll_event()
    event.events = Self.mask(read: read, write: write)
    event.data.u64 = token
    _ = epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
  }

  /// Stops watching `fd` (before it is closed); events already taken for it are dropped.
  func unwatch(_ fd: Int32, token: UInt64) {
    _ = epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
    let index = Int(token & 0xFFFF_FFFF)
    entries[index].watcher = nil
    entries[index].generation &+= 1
    free.append(index)
  }

  private static func mask(read: Bool, write: Bool) -> UInt32 {
    // A paused socket is not watched for the peer's close either: level-triggered, it would
    // wake the loop again and again until reads resume.
    var mask: UInt32 = 0
    if read { mask |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
    if write { mask |= EPOLLOUT.rawValue }
    return mask
  }

  // MARK: the loop

  private func run() {
    let capacity = 256
    let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
    defer { events.deallocate() }
    while !stopping {
      let timeout: Int32
      if !local.isEmpty {
        timeout = 0
      } else if let next = timers.earliest {
        let wait = next.uptimeNanoseconds.subtractingReportingOverflow(
          NIODeadline.now().uptimeNanoseconds)
        timeout = wait.overflow ? 0 : Int32(min((wait.partialValue + 999_999) / 1_000_000, 60_000))
      } else {
        timeout = -1
      }
      let count = epoll_wait(epoll, events, Int32(capacity), timeout)
      for index in 0..<max(Int(count), 0) {
        let event = events[index]
        if event.data.u64 == UInt64.max {
          takeInbox()
          continue
        }
        let slot = Int(event.data.u64 & 0xFFFF_FFFF)
        guard slot < entries.count,
          entries[slot].generation == UInt32(truncatingIfNeeded: event.data.u64 >> 32),
          let watcher = entries[slot].watcher
        else { continue }
        let flags = event.events
        watcher.ready(
          readable: flags & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0,
          writable: flags & EPOLLOUT.rawValue != 0,
          hangup: flags & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0)
      }
      runLocal()
      if let due = timers.takeDue(now: .now()) {
        for job in due { job() }
        runLocal()
      }
    }
    // What is still open closes with the loop, as NIO's channels do with theirs.
    for entry in entries { entry.watcher?.ready(readable: false, writable: false, hangup: true) }
    runLocal()
    Glibc.close(epoll)
    Glibc.close(wakeFD)
    finished.lock()
    finished.unlock(withValue: 1)
  }

  private func takeInbox() {
    var drained: UInt64 = 0
    _ = Glibc.read(wakeFD, &drained, 8)
    let tasks = inbox.withLockedValue { inbox in
      defer {
        inbox.tasks.removeAll(keepingCapacity: true)
        inbox.woken = false
      }
      return inbox.tasks
    }
    for task in tasks { local.append(task) }
  }

  /// Runs the tasks queued on the loop, and those they queue, up to a bound a pass.
  private func runLocal() {
    var rounds = 0
    while !local.isEmpty, rounds < 16 {
      let tasks = local
      local.removeAll(keepingCapacity: true)
      for task in tasks { task() }
      rounds += 1
    }
  }
}

/// A value carried to the loop that owns it; the loop alone touches it.
struct UnsafeTransfer<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
