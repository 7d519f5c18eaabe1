import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// An upgrade without a gap: this router starts a new process of the router program (the
/// binary on disk now, so a new version) with its listening sockets, and waits until that one
/// serves. Both accept from the same sockets meanwhile; then this one stops accepting, drains
/// and exits. Nothing is refused at any moment: the sockets never close, and connections that
/// arrive while the new process starts wait in their queue.
///
/// The new process gets the sockets as descriptors 3, 4, ... (`TURNOUT_LISTEN_FDS=live:3,...`)
/// and a pipe (`TURNOUT_READY_FD`) to write one line on once it serves.
enum Handover {
  static let readyVariable = "TURNOUT_READY_FD"

  /// A new router process that was handed the sockets.
  struct Child {
    let pid: pid_t
    /// The read end of its ready pipe.
    let ready: Int32
  }

  /// Starts `executable` with `arguments`, the listeners in `sockets` and a ready pipe.
  static func start(
    executable: String, arguments: [String], sockets: [String: [Int32]]
  ) throws(RouterError) -> Child {
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else {
      throw RouterError(.upgrade, "cannot make the ready pipe: \(ListenerSockets.errnoText())")
    }
    for fd in pipeEnds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    defer { close(pipeEnds[1]) }
    // Each listener's shards in order, named alike.
    let names = sockets.keys.sorted().flatMap { name in sockets[name]!.map { _ in name } }
    let handed = sockets.keys.sorted().flatMap { sockets[$0]! }
    // Sources above every target, so that no dup2 overwrites a source not yet copied.
    var sources: [Int32] = []
    defer { for fd in sources { close(fd) } }
    for fd in handed + [pipeEnds[1]] {
      let high = fcntl(fd, F_DUPFD_CLOEXEC, 100)
      guard high >= 0 else {
        close(pipeEnds[0])
        throw RouterError(.upgrade, "cannot hand on socket \(fd): \(ListenerSockets.errnoText())")
      }
      sources.append(high)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for (index, source) in sources.enumerated() {
      posix_spawn_file_actions_adddup2(&actions, source, 3 + Int32(index))
    }
    var environment = ProcessInfo.processInfo.environment
    for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
      environment[variable] = nil
    }
    environment[ListenerSockets.handoverVariable] = names.enumerated().map {
      "\($0.element):\(3 + $0.offset)"
    }.joined(separator: ",")
    environment[readyVariable] = String(3 + names.count)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    // The new process starts with no signal blocked and the signals this one traps back to
    // their defaults (an ignored signal would stay ignored across exec).
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT] {
      sigaddset(&defaults, signal)
    }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid: pid_t = 0
    let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    guard status == 0 else {
      close(pipeEnds[0])
      throw RouterError(
        .upgrade, "cannot start \(executable): \(String(cString: strerror(status)))")
    }
    return Child(pid: pid, ready: pipeEnds[0])
  }

  /// Waits up to `timeout` for the child's ready line on a thread of its own. False when it
  /// exited or closed the pipe first, or the time ran out.
  static func awaitReady(_ child: Child, timeout: Duration) async -> Bool {
    await withCheckedContinuation { continuation in
      Thread.detachNewThread {
        defer { close(child.ready) }
        var poller = pollfd(fd: child.ready, events: Int16(POLLIN), revents: 0)
        let millis = Int32(clamping: timeout.milliseconds)
        guard poll(&poller, 1, millis) == 1 else { return continuation.resume(returning: false) }
        var byte: UInt8 = 0
        continuation.resume(returning: read(child.ready, &byte, 1) == 1)
      }
    }
  }

  /// In a process started by `start`: says it serves now. Nothing when it was not.
  static func signalReady() {
    guard let text = ProcessInfo.processInfo.environment[readyVariable], let fd = Int32(text)
    else { return }
    unsetenv(readyVariable)
    let line = "ready\n"
    _ = line.withCString { write(fd, $0, strlen($0)) }
    close(fd)
  }
}

/// systemd's notification protocol, for a unit of `Type=notify` (with `NotifyAccess=all`, so
/// that a router started by an upgrade can say it is the main process now).
enum SystemdNotify {
  /// Sends `state` (lines like `READY=1`) to `$NOTIFY_SOCKET`; nothing without one.
  static func send(_ state: String) {
    guard var path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !path.isEmpty else {
      return
    }
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    // An abstract socket is written with a leading '@' and addressed with a leading NUL.
    let abstract = path.hasPrefix("@")
    if abstract { path.removeFirst() }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let offset = abstract ? 1 : 0
    guard bytes.count + offset < MemoryLayout.size(ofValue: address.sun_path) else { return }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      for (index, byte) in bytes.enumerated() { raw[index + offset] = byte }
    }
    let length = socklen_t(
      MemoryLayout<sa_family_t>.size + bytes.count + offset + (abstract ? 0 : 1))
    _ = state.withCString { text in
      withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          sendto(fd, text, strlen(text), 0, $0, length)
        }
      }
    }
  }
}
