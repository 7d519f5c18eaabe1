import Foundation

/// The rules of a `.dockerignore` file, applied the way Docker's client applies them: a
/// pattern excludes a path when it matches the path or one of its parent directories; `!`
/// makes an exception; the last pattern that matches decides. `*` and `?` stay inside one
/// path segment, `**` spans any number of segments, `[...]` is a character class, `\`
/// escapes. Pure.
public struct DockerIgnore: Sendable, Equatable {
  struct Rule: Sendable, Equatable {
    var segments: [Substring]
    var exception: Bool
  }

  private(set) var rules: [Rule]

  /// Reads the file's text: one pattern per line; blank lines and `#` comments are skipped.
  public init(_ text: String) {
    rules = text.split(whereSeparator: \.isNewline).compactMap { raw in
      var line = raw.trimmingCharacters(in: [" ", "\t"])
      guard !line.isEmpty, !line.hasPrefix("#") else { return nil }
      let exception = line.hasPrefix("!")
      if exception { line = String(line.dropFirst()).trimmingCharacters(in: [" ", "\t"]) }
      let segments = Self.clean(line)
      guard !segments.isEmpty else { return nil }
      return Rule(segments: segments, exception: exception)
    }
  }

  /// Whether some exception could bring back a path under an excluded directory: then the
  /// directory must still be walked.
  public var hasExceptions: Bool { rules.contains(where: \.exception) }

  /// Whether `path` (relative to the context, `/`-separated) stays out of the context.
  public func excludes(_ path: String) -> Bool {
    let segments = Self.clean(path)
    guard !segments.isEmpty else { return false }
    var excluded = false
    for rule in rules where Self.matchesSelfOrParent(rule.segments, segments) {
      excluded = !rule.exception
    }
    return excluded
  }

  /// A path's segments with `.`, empty segments and a leading `/` gone, and `..` applied.
  static func clean(_ path: String) -> [Substring] {
    var out: [Substring] = []
    for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
      switch segment {
      case ".": continue
      case "..": if !out.isEmpty { out.removeLast() }
      default: out.append(segment)
      }
    }
    return out
  }

  static func matchesSelfOrParent(_ pattern: [Substring], _ path: [Substring]) -> Bool {
    (1...path.count).contains { matches(pattern[...], path[..<$0]) }
  }

  /// Whole-path match, segment by segment; `**` takes zero or more segments.
  static func matches(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>) -> Bool {
    guard let first = pattern.first else { return path.isEmpty }
    if first == "**" {
      let rest = pattern.dropFirst()
      return (path.startIndex...path.endIndex).contains { matches(rest, path[$0...]) }
    }
    guard let segment = path.first, Glob.matches(Array(first.utf8), Array(segment.utf8)) else {
      return false
    }
    return matches(pattern.dropFirst(), path.dropFirst())
  }
}

/// One segment's glob: `*`, `?`, `[...]` (with `^` or `!` to negate, and ranges), `\` escapes.
enum Glob {
  static func matches(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
    var p = 0
    var t = 0
    var star: (p: Int, t: Int)?
    while t < text.count {
      if p < pattern.count {
        switch pattern[p] {
        case UInt8(ascii: "*"):
          star = (p, t)
          p += 1
          continue
        case UInt8(ascii: "?"):
          p += 1
          t += 1
          continue
        case UInt8(ascii: "["):
          if let (matched, next) = characterClass(pattern, from: p, text[t]) {
            if matched {
              p = next
              t += 1
              continue
            }
          } else if text[t] == UInt8(ascii: "[") {
            p += 1
            t += 1
            continue
          }
        case UInt8(ascii: "\\") where p + 1 < pattern.count:
          if pattern[p + 1] == text[t] {
            p += 2
            t += 1
            continue
          }
        case let byte where byte == text[t]:
          p += 1
          t += 1
          continue
        default: break
        }
      }
      guard let last = star else { return false }
      star = (last.p, last.t + 1)
      p = last.p + 1
      t = last.t + 1
    }
    while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
    return p == pattern.count
  }

  /// Whether `byte` is in the class opening at `start`, and where the pattern goes on; nil
  /// when the class is not closed (the `[` is then an ordinary character).
  static func characterClass(_ pattern: [UInt8], from start: Int, _ byte: UInt8) -> (Bool, Int)? {
    var i = start + 1
    var negated = false
    if i < pattern.count, pattern[i] == UInt8(ascii: "^") || pattern[i] == UInt8(ascii: "!") {
      negated = true
      i += 1
    }
    var matched = false
    var first = true
    while i < pattern.count {
      if pattern[i] == UInt8(ascii: "]"), !first { return (matched != negated, i + 1) }
      first = false
      var low = pattern[i]
      if low == UInt8(ascii: "\\"), i + 1 < pattern.count {
        i += 1
        low = pattern[i]
      }
      var high = low
      if i + 2 < pattern.count, pattern[i + 1] == UInt8(ascii: "-"),
        pattern[i + 2] != UInt8(ascii: "]")
      {
        high = pattern[i + 2]
        i += 2
      }
      if low <= byte && byte <= high { matched = true }
      i += 1
    }
    return nil
  }
}
