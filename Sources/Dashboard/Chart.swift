/// A line chart drawn as inline SVG by the server: no script, no library, the same picture in
/// any browser. Points are (unix seconds, value); a gap longer than `maxGap` breaks the line.
public struct Chart: Sendable {
  /// One line: its legend label, its CSS class (colour) and its points, oldest first.
  public struct Line: Sendable {
    public var label: String
    public var cssClass: String
    public var points: [(at: Int64, value: Double)]

    public init(label: String, cssClass: String, points: [(at: Int64, value: Double)]) {
      self.label = label
      self.cssClass = cssClass
      self.points = points
    }
  }

  /// How values are printed on the axis.
  public enum Unit: Sendable {
    case perSecond, percent, cores, bytes

    func format(_ value: Double) -> String {
      switch self {
      case .perSecond: return HTML.number(value) + "/s"
      case .percent: return HTML.number(value) + "%"
      case .cores: return value < 1000 ? HTML.number(value) + "m" : HTML.cores(Int64(value))
      case .bytes: return HTML.bytes(value)
      }
    }
  }

  public var title: String
  public var unit: Unit
  public var lines: [Line]
  /// The time axis: from `from` to `to` (unix seconds).
  public var from: Int64
  public var to: Int64
  public var maxGap: Int64
  public var width = 360
  public var height = 120

  public init(
    title: String, unit: Unit, lines: [Line], from: Int64, to: Int64, maxGap: Int64 = 25
  ) {
    self.title = title
    self.unit = unit
    self.lines = lines
    self.from = from
    self.to = to
    self.maxGap = maxGap
  }

  /// The top of the value axis: the largest value rounded up to 1, 2 or 5 times a power of ten
  /// (100 for percentages), never 0.
  var top: Double {
    if unit == .percent { return 100 }
    let largest = lines.flatMap { $0.points.map(\.value) }.max() ?? 0
    guard largest > 0 else { return 1 }
    var step = 1.0
    while step * 10 <= largest { step *= 10 }
    while step > largest { step /= 10 }
    for factor in [1.0, 2.0, 5.0, 10.0] where step * factor >= largest { return step * factor }
    return step * 10
  }

  /// The lines' polylines in plot coordinates, split at gaps.
  func segments(_ line: Line) -> [[(x: Double, y: Double)]] {
    let plotWidth = Double(width - Self.left - 8)
    let plotHeight = Double(height - Self.top - Self.bottom)
    let span = Double(max(1, to - from))
    let top = self.top
    var out: [[(x: Double, y: Double)]] = []
    var current: [(x: Double, y: Double)] = []
    var last: Int64?
    for point in line.points where point.at >= from && point.at <= to {
      if let last, point.at - last > maxGap, !current.isEmpty {
        out.append(current)
        current = []
      }
      let x = Double(Self.left) + Double(point.at - from) / span * plotWidth
      let clamped = max(0, min(top, point.value))
      let y = Double(Self.top) + plotHeight - clamped / top * plotHeight
      current.append((x, y))
      last = point.at
    }
    if !current.isEmpty { out.append(current) }
    return out
  }

  static let left = 52
  static let top = 8
  static let bottom = 18

  /// The chart as an `<figure>` with its title, the SVG and a legend.
  public func render() -> String {
    let plotBottom = height - Self.bottom
    let plotRight = width - 8
    let middle = (Self.top + plotBottom) / 2
    var svg =
      "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
    for (y, value) in [(Self.top, top), (middle, top / 2), (plotBottom, 0)] {
      svg +=
        "<line class=\"grid\" x1=\"\(Self.left)\" y1=\"\(y)\" x2=\"\(plotRight)\" y2=\"\(y)\"/>"
      svg +=
        "<text class=\"axis\" x=\"\(Self.left - 4)\" y=\"\(y + 4)\" text-anchor=\"end\">\(HTML.escape(unit.format(value)))</text>"
    }
    let minutes = max(1, (to - from) / 60)
    svg +=
      "<text class=\"axis\" x=\"\(Self.left)\" y=\"\(height - 4)\">-\(minutes) min</text>"
    svg +=
      "<text class=\"axis\" x=\"\(plotRight)\" y=\"\(height - 4)\" text-anchor=\"end\">now</text>"
    var empty = true
    for line in lines {
      for segment in segments(line) {
        empty = false
        let points = segment.map { "\(Self.fixed($0.x)),\(Self.fixed($0.y))" }.joined(
          separator: " ")
        if segment.count == 1 {
          svg +=
            "<circle class=\"line \(line.cssClass)\" data-series=\"\(HTML.escape(line.label))\" cx=\"\(Self.fixed(segment[0].x))\" cy=\"\(Self.fixed(segment[0].y))\" r=\"2\"/>"
        } else {
          svg +=
            "<polyline class=\"line \(line.cssClass)\" data-series=\"\(HTML.escape(line.label))\" points=\"\(points)\"/>"
        }
      }
    }
    if empty {
      svg +=
        "<text class=\"nodata\" x=\"\((Self.left + plotRight) / 2)\" y=\"\(middle + 4)\" text-anchor=\"middle\">no samples yet</text>"
    }
    svg += "</svg>"
    let legend = lines.map { line -> String in
      let latest = line.points.last.map { " " + unit.format($0.value) } ?? ""
      return
        "<span class=\"key \(line.cssClass)\">\(HTML.escape(line.label))\(HTML.escape(latest))</span>"
    }.joined()
    return
      "<figure class=\"graph\"><figcaption>\(HTML.escape(title))</figcaption>\(svg)<div class=\"legend\">\(legend)</div></figure>"
  }

  static func fixed(_ value: Double) -> String {
    let tenths = Int64((value * 10).rounded())
    return "\(tenths / 10).\(abs(tenths % 10))"
  }
}
