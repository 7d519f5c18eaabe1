/// When to give an HTTP/2 peer more of a receive window (a stream's or the connection's), as
/// a value: the codec reports the window after each DATA frame, and once it is down to half
/// of `target` (or less) the rest is given back in one WINDOW_UPDATE. While the window is
/// held (the proxy has paused the stream's reads: its slot cannot take more) nothing is given
/// back, so the client can send at most one window ahead; giving it back resumes with what
/// was held. Pure.
struct HTTP2InboundWindow {
  /// The window kept open for the peer.
  let target: Int
  /// The window as last reported (or as last raised by an increment handed out).
  private(set) var size: Int
  /// Increments are handed out.
  private(set) var isOpen = true

  init(target: Int) {
    self.target = target
    self.size = target
  }

  /// The codec's report of the window left; returns the increment to send, if any.
  mutating func reported(_ size: Int) -> Int? {
    self.size = size
    return increment()
  }

  /// Opens or holds the window; opening may hand out what was held.
  mutating func setOpen(_ open: Bool) -> Int? {
    isOpen = open
    return increment()
  }

  private mutating func increment() -> Int? {
    guard isOpen, size <= target / 2 else { return nil }
    // A window can be negative after a settings change; an increment is at most 2^31 - 1.
    let increment = min(target - size, Int(Int32.max))
    size += increment
    return increment
  }
}
