/// Parsing of node labels as operators write them: `zone=home,disk=ssd`.
public enum LabelParser {
  public static func parse(_ text: String) throws(ModelError) -> [String: String] {
    var labels: [String: String] = [:]
    for pair in text.split(separator: ",") {
      let trimmed = pair.trimmingSpaces()
      if trimmed.isEmpty { continue }
      let parts = trimmed.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2, !parts[0].isEmpty else {
        throw ModelError(
          .invalidLabel, "label '\(trimmed)' is not valid: write labels as key=value[,key=value]")
      }
      labels[String(parts[0])] = String(parts[1])
    }
    return labels
  }
}

extension Substring {
  func trimmingSpaces() -> String {
    String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
  }
}
