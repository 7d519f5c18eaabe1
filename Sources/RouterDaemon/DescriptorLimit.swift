import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The router's limit on open files: two descriptors per proxied connection (the client's
/// and the slot's), so the soft limit (often 1,024) is raised to the hard one at start.
public enum DescriptorLimit {
  /// Raises the soft limit to the hard one; returns both as they are after.
  public static func raise() -> (soft: UInt64, hard: UInt64) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
    if limit.rlim_cur < limit.rlim_max {
      var raised = limit
      raised.rlim_cur = limit.rlim_max
      if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
  }
}
