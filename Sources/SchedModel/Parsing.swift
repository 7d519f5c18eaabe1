/// Parsers for the small values operators type in flags and config.
public enum Parsing {
  /// `500ms`, `2s`, `1.5s`, `1m`, `12h`, `90d`.
  public static func duration(_ text: String) throws(ModelError) -> Duration {
    let units: [(String, Double)] = [
      ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400),
    ]
    for (suffix, seconds) in units where text.hasSuffix(suffix) {
      if let value = Double(text.dropLast(suffix.count)), value >= 0 {
        return .milliseconds(Int64((value * seconds * 1000).rounded()))
      }
    }
    throw ModelError(
      .invalidDuration, "duration '\(text)' is not valid: write it like 500ms, 2s or 1m")
  }

  /// `127.0.0.1:7100` → host and port. `[::1]:7100` works too.
  public static func hostPort(_ text: String) throws(ModelError) -> (host: String, port: Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (0...65535).contains(port)
    else {
      throw ModelError(
        .invalidAddress,
        "address '\(text)' is not valid: write it as HOST:PORT, e.g. 127.0.0.1:7100")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else {
      throw ModelError(.invalidAddress, "address '\(text)' has no host: write HOST:PORT")
    }
    return (host, port)
  }
}
