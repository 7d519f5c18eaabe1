import Foundation
import SchedModel

/// The dashboard's builds: the recent ones with who, what ref, which kind, how long and the
/// image, and the last lines of each running build's output (refreshed with the page).
extension DashboardPage {
  static func builds(_ builds: [BuildRecord], logs: [String: [String]]) -> String {
    guard !builds.isEmpty else { return "" }
    var rows = ""
    for build in builds {
      let took = build.durationMillis.map { String(format: "%.1f s", Double($0) / 1000) } ?? "-"
      let outcome =
        build.failure.map { $0.summary }
        ?? build.image.map { "\(build.reference) \($0.short)" } ?? "-"
      rows += """
        <tr class="build \(build.state.rawValue)"><td>\(HTML.escape(build.id))</td><td>\(HTML.escape(build.ref))</td>\
        <td>\(build.kind.rawValue)</td><td>\(build.state.rawValue)</td><td>\(HTML.escape(build.node?.rawValue ?? "-"))</td>\
        <td>\(took)</td><td>\(HTML.escape(outcome))</td><td>\(HTML.escape(build.actor))</td></tr>
        """
      if let lines = logs[build.id], !lines.isEmpty {
        rows += """
          <tr class="build-log"><td colspan="8"><pre>\(HTML.escape(lines.joined(separator: "\n")))</pre></td></tr>
          """
      }
    }
    return """
      <section id="builds"><h2>Builds</h2>
      <table><thead><tr><th>build</th><th>ref</th><th>kind</th><th>state</th><th>node</th><th>took</th><th>image or failure</th><th>who</th></tr></thead><tbody>\(rows)</tbody></table>
      </section>
      """
  }
}
