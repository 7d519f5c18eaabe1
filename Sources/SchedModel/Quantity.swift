/// Reading and writing CPU and memory the way operators type them.
public enum Quantity {
  /// `500m` is 500 millicores; `2` or `1.5` are cores.
  public static func parseCPU(_ text: String) throws(ModelError) -> Int64 {
    let trimmed = text.lowercased()
    if trimmed.hasSuffix("m"), let millis = Int64(trimmed.dropLast()), millis > 0 {
      return millis
    }
    if let cores = Double(trimmed), cores > 0, cores < 1e6 {
      return Int64((cores * 1000).rounded())
    }
    throw ModelError(
      .invalidResources,
      "CPU '\(text)' is not valid: write millicores like 500m or cores like 0.5 or 2")
  }

  /// `256Mi`, `1Gi`, `512M`, `1G`, `1024Ki`, or plain bytes.
  public static func parseMemory(_ text: String) throws(ModelError) -> Int64 {
    let units: [(String, Double)] = [
      ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
      ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12),
    ]
    for (suffix, factor) in units where text.hasSuffix(suffix) {
      if let value = Double(text.dropLast(suffix.count)), value > 0 {
        return Int64((value * factor).rounded())
      }
    }
    if let bytes = Int64(text), bytes > 0 { return bytes }
    throw ModelError(
      .invalidResources,
      "memory '\(text)' is not valid: write it like 256Mi, 1Gi, 512M or a number of bytes")
  }

  /// `1.5Gi`, `256Mi`, `900Ki`, `12B`.
  public static func formatMemory(_ bytes: Int64) -> String {
    let units: [(String, Double)] = [
      ("Ti", 1_099_511_627_776), ("Gi", 1_073_741_824), ("Mi", 1_048_576), ("Ki", 1024),
    ]
    let sign = bytes < 0 ? "-" : ""
    let magnitude = Double(abs(bytes))
    for (suffix, factor) in units where magnitude >= factor {
      let value = magnitude / factor
      let rounded = (value * 10).rounded() / 10
      let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
      return "\(sign)\(text)\(suffix)"
    }
    return "\(bytes)B"
  }

  /// `1500m`.
  public static func formatCPU(_ millis: Int64) -> String { "\(millis)m" }
}
