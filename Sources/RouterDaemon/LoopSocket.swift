import NIOCore

#if canImport(Glibc)
  import Glibc
#endif

/// What a `LoopSocket` tells the one it serves, on its loop, in the order SwiftNIO tells a
/// channel's handler: reads, the end of a batch of reads, writability, and the close (during
/// `close()` when the close is this side's).
protocol LoopSocketOwner: AnyObject {
  func socketRead(_ bytes: ByteBuffer)
  func socketReadComplete()
  func socketWritabilityChanged()
  func socketClosed()
}

/// A nonblocking TCP connection on an `EpollLoop`: reads handed to its owner as they come,
/// writes queued and sent at a flush (one `write` when they fit together), back-pressure by
/// the bytes waiting (not writable above 64 KiB until under 32 KiB, NIO's marks), reads
/// paused and resumed by changing what epoll watches.
final class LoopSocket: LoopWatcher {
  let fd: Int32
  let loop: EpollLoop
  var owner: (any LoopSocketOwner)?
  private var token: UInt64 = 0
  private var queue: [ByteBuffer] = []
  /// How many of `queue` a flush released.
  private var flushed = 0
  private var queuedBytes = 0
  private var waitingToWrite = false
  private(set) var reading = true
  private(set) var isOpen = true
  private(set) var isWritable = true
  private var closeWhenWritten = false

  static let highWater = 64 * 1024
  static let lowWater = 32 * 1024

  /// Watches `fd` (connected, nonblocking) on `loop`; `connecting` waits for it to be writable
  /// first.
  init(fd: Int32, loop: EpollLoop, connecting: Bool = false) {
    self.fd = fd
    self.loop = loop
    token = loop.watch(fd, self, read: !connecting, write: connecting)
    waitingToWrite = connecting
  }

  /// Called when a connect finishes (writable): the error it ended with, 0 when it connected.
  var onConnect: ((Int32) -> Void)?

  func ready(readable: Bool, writable: Bool, hangup: Bool) {
    if let onConnect {
      guard writable || hangup else { return }
      self.onConnect = nil
      var error: Int32 = 0
      var length = socklen_t(MemoryLayout<Int32>.size)
      if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
      if error == 0, hangup { error = ECONNREFUSED }
      if error == 0 {
        waitingToWrite = false
        watchChanged()
      }
      onConnect(error)
      return
    }
    if writable, isOpen { writeOut() }
    if isOpen, hangup || (readable && reading) { readIn(hangup: hangup) }
  }

  // MARK: reading

  private func readIn(hangup: Bool) {
    var reads = 0
    while isOpen, reads < 4 {
      loop.readBuffer.clear()
      var result = 0
      var error: Int32 = 0
      var full = false
      loop.readBuffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1024) { space -> Int in
        result = Glibc.read(fd, space.baseAddress, space.count)
        error = errno
        full = result == space.count
        return max(result, 0)
      }
      if result > 0 {
        reads += 1
        owner?.socketRead(loop.readBuffer)
        if full, reading || hangup { continue }
        break
      }
      if result < 0, error == EINTR { continue }
      if result < 0, error == EAGAIN || error == EWOULDBLOCK, !hangup { break }
      // The peer closed (0 bytes), reset, or the connection failed.
      if reads > 0 { owner?.socketReadComplete() }
      close()
      return
    }
    if reads > 0 { owner?.socketReadComplete() }
  }

  /// Switches reading on or off; reading on again reads at once what waits.
  func setReading(_ on: Bool) {
    guard on != reading, isOpen else { return }
    reading = on
    watchChanged()
  }

  private func watchChanged() {
    loop.change(fd, token: token, read: reading, write: waitingToWrite)
  }

  // MARK: writing

  func write(_ bytes: ByteBuffer) {
    guard isOpen, bytes.readableBytes > 0 else { return }
    queue.append(bytes)
    queuedBytes += bytes.readableBytes
    if isWritable, queuedBytes > Self.highWater {
      isWritable = false
      owner?.socketWritabilityChanged()
    }
  }

  func flush() {
    guard isOpen else { return }
    flushed = queue.count
    if !waitingToWrite { writeOut() }
  }

  /// Sends what was flushed, then closes.
  func flushThenClose() {
    guard isOpen else { return }
    closeWhenWritten = true
    flush()
    if isOpen, flushed == 0 { close() }
  }

  private func writeOut() {
    while flushed > 0, isOpen {
      var written: Int
      if flushed == 1 || queue[0].readableBytes >= 16 * 1024 {
        written = queue[0].withUnsafeReadableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      } else {
        // Small parts go out as one write: gathered, not one system call each.
        var total = 0
        var parts = 0
        while parts < flushed, total < 16 * 1024 {
          total += queue[parts].readableBytes
          parts += 1
        }
        var gathered = ByteBufferAllocator().buffer(capacity: total)
        for part in queue[0..<parts] { gathered.writeImmutableBuffer(part) }
        written = gathered.withUnsafeReadableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      }
      if written < 0 {
        let error = errno
        if error == EINTR { continue }
        if error == EAGAIN || error == EWOULDBLOCK {
          if !waitingToWrite {
            waitingToWrite = true
            watchChanged()
          }
          return
        }
        close()
        return
      }
      queuedBytes -= written
      while written > 0 {
        let first = queue[0].readableBytes
        if written >= first {
          written -= first
          queue.removeFirst()
          flushed -= 1
        } else {
          queue[0].moveReaderIndex(forwardBy: written)
          written = 0
        }
      }
    }
    if waitingToWrite, flushed == 0, isOpen {
      waitingToWrite = false
      watchChanged()
    }
    if !isWritable, queuedBytes < Self.lowWater {
      isWritable = true
      owner?.socketWritabilityChanged()
    }
    if closeWhenWritten, flushed == 0 { close() }
  }

  // MARK: closing

  /// Closes now: what was not written is lost. The owner hears of it before this returns.
  func close() {
    guard isOpen else { return }
    isOpen = false
    loop.unwatch(fd, token: token)
    Glibc.close(fd)
    queue.removeAll()
    queuedBytes = 0
    flushed = 0
    onConnect?(ECONNABORTED)
    onConnect = nil
    let owner = self.owner
    self.owner = nil
    owner?.socketClosed()
  }
}
