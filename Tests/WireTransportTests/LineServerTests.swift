import Foundation
import Logging
import ModelFixtures
import NIOCore
import Testing

@testable import WireTransport

/// A blocking TCP client on 127.0.0.1 with a receive timeout, for what the server does with
/// connections it accepted.
private struct RawClient {
  let fd: Int32

  init(port: Int) throws {
    guard let fd = connectLoopback(port: port, readTimeout: 5) else {
      throw POSIXError(.ECONNREFUSED)
    }
    self.fd = fd
  }

  func send(_ text: String) {
    _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
  }

  /// What arrives before the server closes or 5 s pass; `closed` when the server closed.
  func readToEnd() -> (text: String, closed: Bool) {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count > 0 {
        bytes += buffer[0..<count]
      } else {
        // 0: the server closed; -1 with ECONNRESET: closed with a reset; EAGAIN: timed out.
        return (String(decoding: bytes, as: UTF8.self), count == 0 || errno == ECONNRESET)
      }
    }
  }

  func close() { _ = Glibc.close(fd) }
}

@Suite("LineServer")
struct LineServerTests {
  var logger: Logger {
    var logger = Logger(label: "test.lineserver")
    logger.logLevel = .critical
    return logger
  }

  @Test("each connection's lines reach its handler, and what it sends reaches the client")
  func echo() async throws {
    let server = try await LineServer.bind(host: "127.0.0.1", port: 0, maxLineBytes: 1024)
    let task = Task { [logger] in
      try await server.run(logger: logger) { connection in
        do {
          for try await frame in connection.inbound {
            guard case .line(let line) = frame else { continue }
            try await connection.sendRaw(Array("echo \(String(buffer: line))\n".utf8))
            connection.close()
          }
        } catch {}
      }
    }
    defer { task.cancel() }
    let client = try RawClient(port: server.port)
    defer { client.close() }
    client.send("hello\n")
    let answer = client.readToEnd()
    #expect(answer.text == "echo hello\n" && answer.closed, "\(answer)")
  }

  /// SwiftNIO drops the connections its accept stream still buffers when the serving task is
  /// cancelled; a dropped async channel used to trap the process. Each round accepts a burst
  /// and stops at once: the process lives, and every client sees its connection closed.
  @Test("stopped while a burst of connections is being accepted: no trap, every one closed")
  func stopDuringBurst() async throws {
    for _ in 0..<10 {
      let server = try await LineServer.bind(host: "127.0.0.1", port: 0, maxLineBytes: 1024)
      let task = Task { [logger] in
        try await server.run(logger: logger) { connection in
          do { for try await _ in connection.inbound {} } catch {}
        }
      }
      let clients = try (0..<64).map { _ in try RawClient(port: server.port) }
      defer { clients.forEach { $0.close() } }
      task.cancel()
      _ = await task.result
      let open = clients.filter { !$0.readToEnd().closed }.count
      #expect(open == 0, "\(open) of 64 connections left open after the server stopped")
    }
  }
}
