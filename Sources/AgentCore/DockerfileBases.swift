/// The base images a Dockerfile starts from (its `FROM` lines), for a full build to fetch
/// afresh. Stages named earlier (`FROM build AS web` after `FROM golang AS build`),
/// `scratch`, and names made of build arguments (`FROM $BASE`) are left out. Pure.
public enum DockerfileBases {
  public static func parse(_ text: String) -> [String] {
    var stages: Set<String> = []
    var bases: [String] = []
    // Lines continued with a trailing backslash are joined first.
    var joined: [String] = []
    var current = ""
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let line = raw.trimmingCharacters()
      if line.hasPrefix("#") && current.isEmpty { continue }
      if line.hasSuffix("\\") {
        current += line.dropLast() + " "
        continue
      }
      joined.append(current + line)
      current = ""
    }
    for line in joined {
      let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
      guard let first = words.first, first.uppercased() == "FROM" else { continue }
      let rest = words.dropFirst().filter { !$0.hasPrefix("--") }
      guard let image = rest.first else { continue }
      let lowered = image.lowercased()
      if lowered != "scratch", !image.contains("$"), !stages.contains(lowered),
        !bases.contains(image)
      {
        bases.append(image)
      }
      let rest2 = Array(rest)
      if rest2.count >= 3, rest2[1].uppercased() == "AS" { stages.insert(rest2[2].lowercased()) }
    }
    return bases
  }
}

extension StringProtocol {
  fileprivate func trimmingCharacters() -> String {
    String(
      drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop {
        $0 == " " || $0 == "\t" || $0 == "\r"
      }.reversed())
  }
}
