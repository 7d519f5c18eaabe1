/// Text escaping and small formatting helpers for the dashboard's server-rendered pages.
public enum HTML {
  /// Escapes text for an element's content or a quoted attribute value.
  public static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
      switch character {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default: out.append(character)
      }
    }
    return out
  }

  /// Millicores as cores with one decimal ("1.5 cores").
  static func cores(_ millis: Int64) -> String {
    let tenths = (millis + 50) / 100
    return "\(tenths / 10).\(tenths % 10)"
  }

  /// Bytes in binary units with at most one decimal ("1.5 GiB", "512 MiB").
  static func bytes(_ value: Double) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var amount = value
    var unit = 0
    while abs(amount) >= 1024, unit < units.count - 1 {
      amount /= 1024
      unit += 1
    }
    return number(amount) + " " + units[unit]
  }

  /// A number with one decimal below 10 and none above ("3.5", "42").
  static func number(_ value: Double) -> String {
    if value.isNaN || value.isInfinite { return "0" }
    if abs(value) >= 10 || value == value.rounded() { return String(Int64(value.rounded())) }
    let tenths = Int64((value * 10).rounded())
    return "\(tenths / 10).\(abs(tenths % 10))"
  }

  /// Percent of `part` in `whole`, clamped to 0...100, for bar widths.
  static func percent(_ part: Double, of whole: Double) -> Int {
    guard whole > 0 else { return 0 }
    return Int(max(0, min(100, (part / whole * 100).rounded())))
  }
}
