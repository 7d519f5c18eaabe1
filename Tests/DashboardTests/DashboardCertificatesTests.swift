import Dashboard
import Foundation
import OperatorAPI
import Testing

@Suite("Dashboard: certificates")
struct DashboardCertificatesTests {
  @Test("each name's issuer, expiry and source; ACME names with their next order or the error")
  func certificates() {
    let now: Int64 = 1_800_000_000
    let at = Date(timeIntervalSince1970: TimeInterval(now))
    var model = DashboardModel(
      nodes: [], apps: [], routers: [], events: [], samples: [:], now: now)
    model.certificates = CertificatesResponse(
      certificates: [
        CertificateView(
          name: "shop.example.com", issuer: "CN=Pebble Intermediate CA", notBefore: at,
          notAfter: at.addingTimeInterval(90 * 86400), source: "acme", fingerprint: "ab"),
        CertificateView(
          name: "old.example.com", issuer: "CN=<Ops> CA", notBefore: at,
          notAfter: at.addingTimeInterval(3 * 86400), source: "operator", fingerprint: "cd"),
      ],
      acme: [
        ACMENameView(
          name: "shop.example.com", app: "shop", state: "valid",
          nextAttempt: at.addingTimeInterval(60 * 86400), failures: 0, lastError: nil),
        ACMENameView(
          name: "new.example.com", app: "shop", state: "failing",
          nextAttempt: at.addingTimeInterval(120), failures: 3, lastError: "404 at the challenge"),
      ])
    let html = DashboardPage.state(model)
    #expect(html.contains("<section id=\"certificates\">"))
    #expect(
      html.contains("shop.example.com") && html.contains("90d") && html.contains("renews in 60d"))
    #expect(html.contains("CN=&lt;Ops&gt; CA"), "issuers are escaped")
    #expect(html.contains("<tr class=\"certificate valid soon\"><td>old.example.com"))
    #expect(html.contains("failing (3×), retry in 2m: 404 at the challenge"))
  }

  @Test("no certificates, no section")
  func none() {
    let html = DashboardPage.state(
      DashboardModel(nodes: [], apps: [], routers: [], events: [], samples: [:], now: 100))
    #expect(!html.contains("id=\"certificates\""))
  }
}
