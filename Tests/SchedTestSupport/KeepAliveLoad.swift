import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A keep-alive HTTP/1.1 load on 127.0.0.1 (or a test host's address), the way a browser's
/// connections behave: each connection sends GETs one after another; an answer with
/// `Connection: close` (or a close after it) means a new connection for the next request;
/// a reused connection that closes before any byte of an answer is opened again and the
/// request sent again (RFC 9112 9.3.1: a client may retry an idempotent request then).
/// Everything else counts as failed: an error status, a refused or broken connection, a
/// cut answer. Bounded by a request count and a deadline; stops by itself.
public final class KeepAliveLoad: @unchecked Sendable {
  /// What the load saw.
  public struct Figures: Sendable, CustomStringConvertible {
    public var ok = 0
    /// Answered, but not 2xx: status and count.
    public var statuses: [Int: Int] = [:]
    /// Connections refused (nothing listening), or reset before a byte of an answer on a
    /// fresh connection (queued in a listener that then closed): the request was never read.
    public var refused = 0
    /// Connections that broke under a request after part of its answer, or a fresh
    /// connection that closed without answering.
    public var broken = 0
    /// How each broken request went, in order: when, whether the connection was reused or
    /// the request resent, the bytes of the answer that came and how the connection ended.
    public var breaks: [String] = []
    /// Requests sent again after a reused connection closed before answering.
    public var resent = 0
    /// Each answer's `x-turnout-slot` and `x-turnout-deployment` stamps, counted.
    public var stamps: [String: Int] = [:]
    /// Bodies answered, counted (the sample app's whoami says which container).
    public var bodies: [String: Int] = [:]

    public var failed: Int { statuses.values.reduce(0, +) + refused + broken }
    public var total: Int { ok + failed }

    public var description: String {
      "\(ok) ok, \(failed) failed (statuses \(statuses), refused \(refused), broken \(broken)), \(resent) resent on a new connection"
        + (breaks.isEmpty ? "" : "; broken: \(breaks.joined(separator: "; "))")
    }
  }

  let host: String
  let port: Int
  let path: String
  let hostHeader: String
  private let lock = NSLock()
  private var figures = Figures()
  private var stopped = false
  /// Requests not sent yet.
  private var left = 0
  private var threads: [Thread] = []
  private let done = DispatchGroup()

  public init(host: String = "127.0.0.1", port: Int, path: String = "/", hostHeader: String) {
    self.host = host
    self.port = port
    self.path = path
    self.hostHeader = hostHeader
  }

  /// Starts `connections` connections, together sending at most `requests` requests and
  /// stopping at `deadline` at the latest.
  public func start(connections: Int, requests: Int, for deadline: Duration) {
    let end = Date().addingTimeInterval(deadline.seconds)
    lock.withLock { left = requests }
    for _ in 0..<connections {
      done.enter()
      let thread = Thread { [self] in
        defer { done.leave() }
        var connection = Connection(host: host, port: port)
        while Date() < end && !isStopped {
          guard takeOne() else { return }
          let outcome = connection.get(path, host: hostHeader)
          record(outcome)
          if case .refused = outcome { usleep(10_000) }
        }
        connection.close()
      }
      threads.append(thread)
      thread.start()
    }
  }

  /// Stops after the requests under way; returns what was seen.
  @discardableResult
  public func stop() -> Figures {
    lock.withLock { stopped = true }
    done.wait()
    return snapshot
  }

  /// Waits for the load to end by itself (count or deadline).
  public func wait() -> Figures {
    done.wait()
    return snapshot
  }

  public var snapshot: Figures { lock.withLock { figures } }

  private var isStopped: Bool { lock.withLock { stopped } }

  private func takeOne() -> Bool {
    lock.withLock {
      guard left > 0 else { return false }
      left -= 1
      return true
    }
  }

  private func record(_ outcome: Connection.Outcome) {
    lock.withLock {
      switch outcome {
      case .answered(let status, let stamp, let body, let resent):
        if resent { figures.resent += 1 }
        if (200..<300).contains(status) {
          figures.ok += 1
        } else {
          figures.statuses[status, default: 0] += 1
        }
        if let stamp { figures.stamps[stamp, default: 0] += 1 }
        figures.bodies[body, default: 0] += 1
      case .refused: figures.refused += 1
      case .broken(let how):
        figures.broken += 1
        figures.breaks.append(how)
      }
    }
  }
}

/// One client connection, opened when needed.
private struct Connection {
  enum Outcome {
    case answered(status: Int, stamp: String?, body: String, resent: Bool)
    case refused
    /// How it broke, for the failure message.
    case broken(String)
  }

  let host: String
  let port: Int
  var fd: Int32 = -1
  /// Whether the open connection carried an answer already (a close before the next answer
  /// is then the server's idle close, not a failure).
  var reused = false

  init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  mutating func close() {
    if fd >= 0 { Glibc.close(fd) }
    fd = -1
    reused = false
  }

  mutating func get(_ path: String, host header: String) -> Outcome {
    var resent = false
    while true {
      if fd < 0 {
        guard open() else { return .refused }
      }
      let wasReused = reused
      let request = "GET \(path) HTTP/1.1\r\nhost: \(header)\r\n\r\n"
      let sent = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
      var answer = Answer()
      let complete = sent > 0 && read(&answer)
      if complete {
        reused = true
        if answer.close { close() }
        return .answered(
          status: answer.status, stamp: answer.stamp, body: answer.body, resent: resent)
      }
      let error = errno
      let reset = error == ECONNRESET
      close()
      // A reused connection the server closed before a byte of the answer: send again on a
      // new one, once.
      if wasReused && answer.received == 0 && !resent {
        resent = true
        continue
      }
      if !wasReused && answer.received == 0 && reset { return .refused }
      let ending =
        sent <= 0
        ? "send failed (\(String(cString: strerror(error))))"
        : answer.ended == 0
          ? "closed by the server" : "recv: \(String(cString: strerror(answer.ended)))"
      return .broken(
        "at \(String(format: "%.3f", Date().timeIntervalSince1970)) on a \(wasReused ? "reused" : "new") connection\(resent ? " (resent)" : ""): \(answer.received) bytes of the answer, then \(ending)"
      )
    }
  }

  private mutating func open() -> Bool {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr(host)
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
    if !connected { close() }
    reused = false
    return connected
  }

  struct Answer {
    var status = 0
    var close = false
    var stamp: String?
    var body = ""
    var received = 0
    /// How the read ended when the answer was not whole: 0 for the peer's close, else errno.
    var ended: Int32 = 0
  }

  /// Reads one answer with a content-length (what the peers here send). False when the
  /// connection ended before it was whole.
  private func read(_ answer: inout Answer) -> Bool {
    var buffer = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    var headEnd: Int?
    var length = 0
    while true {
      if let end = headEnd, buffer.count >= end + length {
        answer.body = String(decoding: buffer[end..<(end + length)], as: UTF8.self)
          .trimmingCharacters(in: .whitespacesAndNewlines)
        return true
      }
      let count = recv(fd, &chunk, chunk.count, 0)
      guard count > 0 else {
        answer.ended = count == 0 ? 0 : errno
        return false
      }
      answer.received += count
      buffer += chunk[0..<count]
      if headEnd == nil, let end = Self.headEnd(buffer) {
        headEnd = end
        let head = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
        let lines = head.split(separator: "\r\n")
        answer.status =
          lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var slot: String?
        var deployment: String?
        for line in lines.dropFirst() {
          let parts = line.split(separator: ":", maxSplits: 1)
          guard parts.count == 2 else { continue }
          let value = parts[1].trimmingCharacters(in: .whitespaces)
          switch parts[0] {
          case "content-length": length = Int(value) ?? 0
          case "connection": answer.close = value == "close"
          case "x-turnout-slot": slot = value
          case "x-turnout-deployment": deployment = value
          default: break
          }
        }
        if let slot { answer.stamp = "\(slot) \(deployment ?? "-")" }
      }
    }
  }

  private static func headEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for index in 3..<bytes.count
    where bytes[index - 3] == 13 && bytes[index - 2] == 10 && bytes[index - 1] == 13
      && bytes[index] == 10
    {
      return index + 1
    }
    return nil
  }
}
