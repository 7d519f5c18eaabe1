/// Asks a slot whether it is healthy. The agent owns this seam: HTTP in production, scripted
/// answers in tests.
public protocol HealthProber: Sendable {
  /// nil when the check passed; otherwise what went wrong ("HTTP 503", "connection refused").
  func probe(host: String, port: Int, path: String, timeout: Duration) async -> String?
}
