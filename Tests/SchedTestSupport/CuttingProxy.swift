import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A TCP relay on 127.0.0.1 in front of `target` that cuts its first connections after a
/// number of bytes toward the client: a transfer broken off halfway, on real sockets. Later
/// connections pass through whole. With `record`, it keeps every byte it relays either way
/// (a capture of what crosses the wire). `stop` closes everything.
public final class CuttingProxy: @unchecked Sendable {
  public let port: Int
  private let listener: Int32
  private let target: Int
  private let lock = NSLock()
  private var cuts: [Int]
  private var sockets: [Int32] = []
  private var stopped = false
  private var count = 0
  private let record: Bool
  private var bytes: [UInt8] = []

  /// Every byte relayed so far, both ways, when recording.
  public var captured: [UInt8] { lock.withLock { bytes } }

  /// Connections accepted so far.
  public var accepted: Int { lock.withLock { count } }

  /// `cuts`: for the first connections in turn, how many bytes reach the client before the cut.
  public init(targetPort: Int, cuts: [Int], record: Bool = false) throws {
    target = targetPort
    self.record = record
    self.cuts = cuts
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    self.listener = listener
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(listener, 16) == 0 else { throw HarnessError("proxy cannot listen") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
    }
    port = Int(UInt16(bigEndian: address.sin_port))
    Thread.detachNewThread { [self] in acceptLoop() }
  }

  public func stop() {
    lock.withLock {
      stopped = true
      shutdown(listener, Int32(SHUT_RDWR))
      close(listener)
      for socket in sockets {
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
      }
      sockets = []
    }
  }

  private func acceptLoop() {
    while true {
      let client = accept(listener, nil, nil)
      guard client >= 0 else { return }
      let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      address.sin_port = UInt16(target).bigEndian
      let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      let limit: Int? = lock.withLock {
        sockets += [client, upstream]
        count += 1
        return cuts.isEmpty ? nil : cuts.removeFirst()
      }
      guard connected == 0 else {
        close(client)
        close(upstream)
        continue
      }
      Thread.detachNewThread { [self] in pump(from: client, to: upstream, limit: nil) }
      Thread.detachNewThread { [self] in pump(from: upstream, to: client, limit: limit) }
    }
  }

  /// Copies until either side closes, or until `limit` bytes went through; then closes both.
  private func pump(from source: Int32, to sink: Int32, limit: Int?) {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    var total = 0
    while true {
      let want = limit.map { min(buffer.count, $0 - total) } ?? buffer.count
      guard want > 0 else { break }
      let n = read(source, &buffer, want)
      guard n > 0 else { break }
      if record { lock.withLock { bytes += buffer[0..<n] } }
      var offset = 0
      while offset < n {
        let written = buffer.withUnsafeBytes { write(sink, $0.baseAddress! + offset, n - offset) }
        guard written > 0 else { break }
        offset += written
      }
      total += n
    }
    shutdown(source, Int32(SHUT_RDWR))
    shutdown(sink, Int32(SHUT_RDWR))
  }
}
