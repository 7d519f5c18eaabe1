import Foundation
import OperatorAPI

/// The dashboard's certificates: each name routers serve HTTPS for, its issuer, its expiry and
/// how long is left, where it came from, and for names the scheduler keeps over ACME when the
/// next order is due or why the last one failed.
extension DashboardPage {
  static func certificates(_ status: CertificatesResponse, now: Date) -> String {
    guard !status.certificates.isEmpty || !status.acme.isEmpty else { return "" }
    let acme = Dictionary(uniqueKeysWithValues: status.acme.map { ($0.name, $0) })
    var rows = ""
    var listed = Set<String>()
    for certificate in status.certificates {
      listed.insert(certificate.name)
      let left = certificate.notAfter.timeIntervalSince(now)
      let soon = left < 14 * 86400 ? " soon" : ""
      rows += row(
        certificate.name, css: left <= 0 ? "expired" : "valid\(soon)",
        cells: [
          certificate.issuer, certificate.notAfter.formatted(.iso8601), remaining(left),
          certificate.source,
        ], acme: acme[certificate.name], now: now)
    }
    for name in status.acme where !listed.contains(name.name) {
      rows += row(name.name, css: "pending", cells: ["-", "-", "-", "-"], acme: name, now: now)
    }
    return """
      <section id="certificates"><h2>Certificates</h2>
      <table><thead><tr><th>name</th><th>issuer</th><th>expires</th><th>left</th><th>source</th><th>ACME</th></tr></thead><tbody>\(rows)</tbody></table>
      </section>
      """
  }

  private static func row(
    _ name: String, css: String, cells: [String], acme: ACMENameView?, now: Date
  ) -> String {
    var state = "-"
    if let acme {
      let next = acme.nextAttempt.map { remaining($0.timeIntervalSince(now)) } ?? "-"
      switch acme.state {
      case "failing":
        state = "failing (\(acme.failures)×), retry in \(next): \(acme.lastError ?? "")"
      case "pending": state = "ordering"
      default: state = "renews in \(next)"
      }
    }
    let failing = acme?.state == "failing" ? " failing" : ""
    return "<tr class=\"certificate \(css)\(failing)\"><td>\(HTML.escape(name))</td>"
      + cells.map { "<td>\(HTML.escape($0))</td>" }.joined() + "<td>\(HTML.escape(state))</td></tr>"
  }

  static func remaining(_ seconds: TimeInterval) -> String {
    guard seconds > 0 else { return "expired" }
    if seconds >= 86400 { return "\(Int(seconds / 86400))d" }
    if seconds >= 3600 { return "\(Int(seconds / 3600))h" }
    return seconds >= 60 ? "\(Int(seconds / 60))m" : "\(Int(seconds))s"
  }
}
