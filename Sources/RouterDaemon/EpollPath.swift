import CEpoll
import NIOCore
import RouteTable

#if canImport(Glibc)
  import Glibc
#endif

/// A listening socket served by an `EpollLoop`: each connection it accepts gets a
/// `LoopSocket` and a `ProxyHandler` on the same loop.
final class EpollListener: LoopWatcher {
  private let fd: Int32
  private let loop: EpollLoop
  private let context: LoopContext
  private let routes: RouteState
  private let listener: ProxyRoute.Listener
  private var token: UInt64 = 0
  private var open = true
  /// Not watched for a moment: the process ran out of descriptors.
  private var paused = false

  /// Starts accepting on `fd` (a listening socket this listener owns and closes).
  init(
    fd: Int32, loop: EpollLoop, context: LoopContext, routes: RouteState,
    listener: ProxyRoute.Listener
  ) {
    self.fd = fd
    self.loop = loop
    self.context = context
    self.routes = routes
    self.listener = listener
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    token = loop.watch(fd, self, read: true, write: false, exclusive: true)
  }

  func ready(readable: Bool, writable: Bool, hangup: Bool) {
    guard open else { return }
    if !readable, hangup {
      // The loop is closing.
      close()
      return
    }
    for _ in 0..<16 {
      var address = sockaddr_storage()
      var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
      let client = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          cepoll_accept4(fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
        }
      }
      guard client >= 0 else {
        let error = errno
        if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM {
          pause()
        }
        return
      }
      var on: Int32 = 1
      _ = setsockopt(
        client, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
      let socket = LoopSocket(fd: client, loop: loop)
      let handler = ProxyHandler(loop: context, routes: routes, listener: listener)
      socket.owner = handler
      handler.clientIP = Self.ip(of: address)
      handler.start(.socket(socket))
    }
  }

  /// Out of descriptors: stop accepting for a tenth of a second rather than spin on the
  /// connections waiting (they stay queued).
  private func pause() {
    loop.unwatch(fd, token: token)
    paused = true
    _ = loop.after(.milliseconds(100)) { [self] in
      guard open else { return }
      paused = false
      token = loop.watch(fd, self, read: true, write: false, exclusive: true)
    }
  }

  func close() {
    guard open else { return }
    open = false
    if !paused { loop.unwatch(fd, token: token) }
    Glibc.close(fd)
  }

  /// The text form of a peer's IP address.
  static func ip(of address: sockaddr_storage) -> String? {
    var address = address
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    let done: UnsafePointer<CChar>? = withUnsafePointer(to: &address) { pointer in
      switch Int32(pointer.pointee.ss_family) {
      case AF_INET:
        return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
          var raw = v4.pointee.sin_addr
          return inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
        }
      case AF_INET6:
        return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
          var raw = v6.pointee.sin6_addr
          return inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
        }
      default: return nil
      }
    }
    guard done != nil else { return nil }
    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// Connections to slots from an `EpollLoop`: a nonblocking connect, its timeout a timer of the
/// loop, the connection an `UpstreamHandler` over a `LoopSocket`.
enum EpollConnector {
  static func connect(_ upstream: Upstream, on loop: EpollLoop, timeout: TimeAmount)
    -> EventLoopFuture<UpstreamHandler>
  {
    let promise = loop.makePromise(of: UpstreamHandler.self)
    guard let (family, address) = Self.address(upstream.address, port: upstream.port) else {
      promise.fail(
        IOError(errnoCode: EINVAL, reason: "cannot resolve \(upstream.address):\(upstream.port)"))
      return promise.futureResult
    }
    let fd = socket(
      family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      promise.fail(IOError(errnoCode: errno, reason: "socket"))
      return promise.futureResult
    }
    var on: Int32 = 1
    _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    var storage = address
    let result = withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(
          fd, $0,
          socklen_t(
            family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size))
      }
    }
    if result == 0 {
      promise.assumeIsolated().succeed(
        UpstreamHandler(upstream: upstream, socket: LoopSocket(fd: fd, loop: loop)))
      return promise.futureResult
    }
    guard errno == EINPROGRESS else {
      let error = errno
      Glibc.close(fd)
      promise.fail(IOError(errnoCode: error, reason: "connect"))
      return promise.futureResult
    }
    let socket = LoopSocket(fd: fd, loop: loop, connecting: true)
    let timer = loop.after(timeout) { socket.close() }
    socket.onConnect = { error in
      loop.cancelTimer(timer)
      if error == 0 {
        promise.assumeIsolated().succeed(UpstreamHandler(upstream: upstream, socket: socket))
      } else {
        socket.close()
        promise.fail(IOError(errnoCode: error, reason: "connect"))
      }
    }
    return promise.futureResult
  }

  /// The socket address of an IP literal; a host name is looked up (blocking the loop: slots
  /// are addressed by IP, a name is the exception).
  static func address(_ host: String, port: Int) -> (Int32, sockaddr_storage)? {
    let bare =
      host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    for flags in [AI_NUMERICHOST | AI_NUMERICSERV, AI_NUMERICSERV] {
      var hints = addrinfo()
      hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
      hints.ai_flags = flags
      var list: UnsafeMutablePointer<addrinfo>?
      guard getaddrinfo(bare, String(port), &hints, &list) == 0, let first = list else {
        continue
      }
      defer { freeaddrinfo(list) }
      var storage = sockaddr_storage()
      withUnsafeMutableBytes(of: &storage) { target in
        target.copyMemory(
          from: UnsafeRawBufferPointer(
            start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
      }
      return (first.pointee.ai_family, storage)
    }
    return nil
  }
}

extension ProxyHandler: LoopSocketOwner {
  func socketRead(_ bytes: ByteBuffer) { clientRead(bytes) }
  func socketReadComplete() { clientReadComplete() }
  func socketWritabilityChanged() { clientWritabilityChanged() }
  func socketClosed() {
    clientClosed()
    stop()
  }
}
