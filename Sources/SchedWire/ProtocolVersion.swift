/// Versions of the cluster protocol and how two peers agree on one.
public enum ProtocolVersion {
  /// The versions this build speaks, oldest first.
  public static let supported: [Int] = [1]
  public static let current = 1

  /// The highest version both sides speak, or nil when they share none.
  public static func negotiate(offered: [Int], supported: [Int] = supported) -> Int? {
    Set(offered).intersection(supported).max()
  }
}

/// Limits that keep one bad client from hurting the scheduler.
public enum WireLimits {
  /// The longest line accepted, newline excluded: 1 MiB.
  public static let maxLineBytes = 1 << 20
  /// How long a new connection has to say hello.
  public static let helloTimeout: Duration = .seconds(10)
}
