import Foundation

/// Byte counts as operators read them: "97.6 MiB", "5.0 KiB", "812 B".
public enum ByteCount {
  public static func text(_ bytes: Int64) -> String {
    if bytes >= 1 << 30 { return String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
    if bytes >= 1 << 20 { return String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) }
    if bytes >= 1 << 10 { return String(format: "%.1f KiB", Double(bytes) / Double(1 << 10)) }
    return "\(bytes) B"
  }
}
