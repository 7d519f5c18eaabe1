import SchedModel

/// Reads what the host has and what it uses. The agent owns this seam: `/proc` in production,
/// a fixed or scripted fake in tests.
public protocol HostProbe: Sendable {
  /// CPU available to the agent's process and the host's memory.
  func capacity() async throws -> Resources
  /// Usage since the previous call (the first call measures over a short window).
  func usage() async throws -> HostUsage
}
