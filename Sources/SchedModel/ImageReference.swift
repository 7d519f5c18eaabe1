/// Docker's grammar for an image reference (distribution's `reference` package), checked
/// before a spec is stored, so an image the engine would refuse is never retried for ever:
///
///     reference  := name [ ":" tag ] [ "@" digest ]
///     name       := [ domain "/" ] component ( "/" component )*   (at most 255 characters)
///     domain     := host [ ":" port ]
///     component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
///     tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
///     digest     := algorithm ":" hex{32,}
///
/// A bare image id (`sha256:` and 64 hex digits) is taken too: the engine runs it as it is.
public enum ImageReference {
  public static let maxNameLength = 255

  /// nil when `reference` is valid; otherwise what is wrong with it.
  public static func problem(_ reference: String) -> String? {
    let shown = reference.count > 60 ? String(reference.prefix(57)) + "..." : reference
    func bad(_ why: String) -> String { "'\(shown)' is not an image reference: \(why)" }
    guard !reference.isEmpty else { return "an image reference is needed, like web:2" }
    guard reference.count <= 512 else { return bad("\(reference.count) characters is too long") }
    if reference.hasPrefix("sha256:") {
      let hex = reference.dropFirst(7)
      return hex.count == 64 && hex.allSatisfy(\.isHexDigit)
        ? nil : bad("an image id is sha256: and 64 hex digits")
    }
    var rest = Substring(reference)
    if let at = rest.firstIndex(of: "@") {
      if let why = digestProblem(rest[rest.index(after: at)...]) { return bad(why) }
      rest = rest[..<at]
    }
    // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
    let lastSlash = rest.lastIndex(of: "/")
    if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
      let tag = rest[rest.index(after: colon)...]
      if let why = tagProblem(tag) { return bad(why) }
      rest = rest[..<colon]
    }
    guard !rest.isEmpty else { return bad("the name is missing") }
    guard rest.count <= maxNameLength else {
      return bad("the name is \(rest.count) characters; at most \(maxNameLength)")
    }
    var parts = rest.split(separator: "/", omittingEmptySubsequences: false)
    // The first part is a registry when it has a '.' or a ':' or is localhost.
    if parts.count > 1, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost"
    {
      if let why = domainProblem(parts.removeFirst()) { return bad(why) }
    }
    for part in parts {
      if let why = componentProblem(part) { return bad(why) }
    }
    return nil
  }

  static func isLowerAlnum(_ c: Character) -> Bool {
    c.isASCII && (c.isNumber || ("a"..."z").contains(c))
  }

  static func componentProblem(_ part: Substring) -> String? {
    guard let first = part.first, let last = part.last else { return "a path part is empty" }
    guard isLowerAlnum(first), isLowerAlnum(last) else {
      return "'\(part)' must start and end with a lower-case letter or digit"
    }
    var run: [Character] = []
    for c in part {
      if isLowerAlnum(c) {
        if !run.isEmpty,
          !(run == ["."] || run == ["_"] || run == ["_", "_"] || run.allSatisfy({ $0 == "-" }))
        {
          return "'\(part)' has the separator '\(String(run))'; use '.', '_', '__' or dashes"
        }
        run = []
      } else if c == "." || c == "_" || c == "-" {
        run.append(c)
      } else {
        return "'\(part)' has '\(c)'; a name has lower-case letters, digits and . _ - only"
      }
    }
    return nil
  }

  /// nil when `domain` is a registry host with an optional port; otherwise what is wrong.
  public static func domainProblem(_ domain: Substring) -> String? {
    var host = domain
    if let colon = domain.lastIndex(of: ":"),
      !domain.hasPrefix("[") || domain[..<colon].hasSuffix("]")
    {
      let port = domain[domain.index(after: colon)...]
      guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isNumber) else {
        return "the registry '\(domain)' has a bad port"
      }
      host = domain[..<colon]
    }
    if host.hasPrefix("[") && host.hasSuffix("]") { return nil }  // an IPv6 address
    let labels = host.split(separator: ".", omittingEmptySubsequences: false)
    for label in labels {
      guard let first = label.first, let last = label.last,
        first.isASCII, first.isLetter || first.isNumber, last.isASCII,
        last.isLetter || last.isNumber,
        label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
      else { return "the registry '\(domain)' is not a host name" }
    }
    return nil
  }

  static func tagProblem(_ tag: Substring) -> String? {
    guard let first = tag.first else { return "the tag after ':' is empty" }
    guard tag.count <= 128 else { return "the tag is \(tag.count) characters; at most 128" }
    func word(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_") }
    guard word(first), tag.allSatisfy({ word($0) || $0 == "." || $0 == "-" }) else {
      return "the tag '\(tag)' may have letters, digits, _ . - only (and not start with . or -)"
    }
    return nil
  }

  static func digestProblem(_ digest: Substring) -> String? {
    guard let colon = digest.firstIndex(of: ":") else { return "a digest is ALGORITHM:HEX" }
    let algorithm = digest[..<colon]
    let hex = digest[digest.index(after: colon)...]
    guard let first = algorithm.first, first.isASCII, first.isLetter,
      algorithm.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_+.".contains($0)) })
    else { return "the digest's algorithm '\(algorithm)' is not valid" }
    guard hex.count >= 32, hex.allSatisfy(\.isHexDigit) else {
      return "a digest has at least 32 hex digits after '\(algorithm):'"
    }
    return nil
  }
}
