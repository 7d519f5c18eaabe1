import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The listening sockets the proxy serves on, by listener name (`live`, `preview`): opened
/// here, or inherited from the router this one replaces (`TURNOUT_LISTEN_FDS=live:3,...`) or
/// from systemd's socket activation (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`). The router
/// keeps each descriptor for its life, so that an upgrade can hand it on: the socket, and the
/// connections waiting in its queue, outlive the process that made it.
public enum ListenerSockets {
  public static let live = "live"
  public static let preview = "preview"
  public static let tls = "tls"
  /// Set by a router handing its sockets to a new process: `NAME:FD,...`.
  static let handoverVariable = "TURNOUT_LISTEN_FDS"

  /// Sockets this process was given at its start, by name (a listener's shards, in order);
  /// empty when none. The variables that named them are taken out of the environment, so no
  /// child inherits them by mistake.
  public static func inherited() -> [String: [Int32]] {
    let environment = ProcessInfo.processInfo.environment
    var found: [String: [Int32]] = [:]
    if let list = environment[handoverVariable] {
      for entry in list.split(separator: ",") {
        let parts = entry.split(separator: ":")
        guard parts.count == 2, let fd = Int32(parts[1]), fd >= 3 else { continue }
        found[String(parts[0]), default: []].append(fd)
      }
      unsetenv(handoverVariable)
    } else if let pid = environment["LISTEN_PID"], Int32(pid) == getpid(),
      let count = environment["LISTEN_FDS"].flatMap(Int32.init), count > 0
    {
      let names = (environment["LISTEN_FDNAMES"] ?? "").split(separator: ":").map(String.init)
      let defaults = [live, preview]
      for index in 0..<Int(count) {
        let name =
          index < names.count && defaults.contains(names[index])
          ? names[index] : index < defaults.count ? defaults[index] : "unused\(index)"
        found[name, default: []].append(3 + Int32(index))
      }
      for variable in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(variable) }
    }
    for fd in found.values.joined() { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return found
  }

  /// A TCP socket listening on `host:port` (an IPv4 or IPv6 literal, or a name that resolves
  /// to one), close-on-exec, with address reuse, and port reuse so that `shard(of:)` can add
  /// a socket per event loop on the same address.
  static func open(host: String, port: Int) throws(RouterError) -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
    var list: UnsafeMutablePointer<addrinfo>?
    let lookup = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
    guard lookup == 0, let first = list else {
      throw RouterError(
        .bind, "cannot listen on \(host):\(port): \(String(cString: gai_strerror(lookup)))")
    }
    defer { freeaddrinfo(list) }
    let taken =
      "cannot listen on \(host):\(port): %@; pick a free address with --listen or --preview-listen"
    // Port reuse would let this socket join one another router (of the same user) listens
    // on, splitting its traffic without a word: a plain bind first says whether it is taken.
    if port != 0 {
      let probe = try bound(
        first.pointee.ai_family, first.pointee.ai_addr, first.pointee.ai_addrlen,
        reusePort: false, listening: false, failure: taken)
      close(probe)
    }
    return try bound(
      first.pointee.ai_family, first.pointee.ai_addr, first.pointee.ai_addrlen,
      reusePort: true, listening: true, failure: taken)
  }

  /// A close-on-exec TCP socket with address reuse (and port reuse when asked) bound to
  /// `address`, listening when asked. `failure` says why not, its `%@` the system's reason.
  private static func bound(
    _ family: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t, reusePort: Bool,
    listening: Bool, failure: String
  ) throws(RouterError) -> Int32 {
    let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw RouterError(.bind, "cannot make a socket: \(errnoText())") }
    var on: Int32 = 1
    _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    if reusePort {
      _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size))
    }
    guard bind(fd, address, length) == 0, !listening || listen(fd, 1024) == 0 else {
      let reason = errnoText()
      close(fd)
      throw RouterError(.bind, failure.replacingOccurrences(of: "%@", with: reason))
    }
    return fd
  }

  /// Another listening socket on the address `fd` listens on (SO_REUSEPORT): the kernel
  /// spreads new connections over the shards, each accepted by its own event loop. Fails when
  /// `fd` was made without port reuse (a systemd socket without `ReusePort=yes`).
  static func shard(of fd: Int32) throws(RouterError) -> Int32 {
    var address = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else {
      throw RouterError(.bind, "cannot read the address of socket \(fd): \(errnoText())")
    }
    let family = Int32(address.ss_family)
    return try withUnsafePointer(to: &address) { pointer throws(RouterError) in
      try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw throws(RouterError) in
        try bound(
          family, raw, length, reusePort: true, listening: true,
          failure: "cannot add a listening socket beside socket \(fd): %@")
      }
    }
  }

  /// The port `fd` is bound to.
  static func port(of fd: Int32) -> Int? {
    var address = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { return nil }
    return withUnsafePointer(to: &address) { pointer in
      switch Int32(pointer.pointee.ss_family) {
      case AF_INET:
        pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
          Int(UInt16(bigEndian: $0.pointee.sin_port))
        }
      case AF_INET6:
        pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
          Int(UInt16(bigEndian: $0.pointee.sin6_port))
        }
      default: nil
      }
    }
  }

  /// A second descriptor of `fd` for NIO to own (and close); the first stays for handing on.
  static func duplicate(_ fd: Int32) throws(RouterError) -> Int32 {
    let copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)
    guard copy >= 0 else {
      throw RouterError(.bind, "cannot duplicate socket \(fd): \(errnoText())")
    }
    return copy
  }

  static func errnoText() -> String { String(cString: strerror(errno)) }
}
