/// The Prometheus text format (0.0.4), written by hand: families in the order they are first
/// named, each with its HELP and TYPE lines and then all its samples, label values escaped.
/// (A histogram's buckets come from the routers' own counts, which no client library takes.)
struct PrometheusText {
  enum Kind: String {
    case gauge, counter, histogram
  }

  private var order: [String] = []
  private var families: [String: (kind: Kind, help: String, lines: [String])] = [:]

  mutating func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double)
  {
    add(name, .gauge, help, sample: Self.line(name, labels, value))
  }

  mutating func counter(
    _ name: String, _ help: String, _ labels: [(String, String)], _ value: Double
  ) {
    add(name, .counter, help, sample: Self.line(name, labels, value))
  }

  /// A histogram from bucket counts (`counts[i]` at most `bounds[i]`, the last one beyond every
  /// bound) and the sum of the observations.
  mutating func histogram(
    _ name: String, _ help: String, _ labels: [(String, String)], bounds: [Double],
    counts: [Int64], sum: Double
  ) {
    var cumulative: Int64 = 0
    for (index, bound) in bounds.enumerated() {
      cumulative += index < counts.count ? counts[index] : 0
      add(
        name, .histogram, help,
        sample: Self.line(
          name + "_bucket", labels + [("le", Self.number(bound))], Double(cumulative)))
    }
    let total = counts.reduce(0, +)
    add(
      name, .histogram, help,
      sample: Self.line(name + "_bucket", labels + [("le", "+Inf")], Double(total)))
    add(name, .histogram, help, sample: Self.line(name + "_sum", labels, sum))
    add(name, .histogram, help, sample: Self.line(name + "_count", labels, Double(total)))
  }

  private mutating func add(_ name: String, _ kind: Kind, _ help: String, sample: String) {
    if families[name] == nil {
      order.append(name)
      families[name] = (kind, help, [])
    }
    families[name]!.lines.append(sample)
  }

  var text: String {
    var out = ""
    for name in order {
      let family = families[name]!
      out += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.kind.rawValue)\n"
      for line in family.lines { out += line + "\n" }
    }
    return out
  }

  static func line(_ name: String, _ labels: [(String, String)], _ value: Double) -> String {
    guard !labels.isEmpty else { return "\(name) \(number(value))" }
    let pairs = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
    return "\(name){\(pairs)} \(number(value))"
  }

  static func escape(_ value: String) -> String {
    var out = ""
    for character in value {
      switch character {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.append(character)
      }
    }
    return out
  }

  static func number(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }
}
