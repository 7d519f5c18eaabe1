import HTTPFraming
import NIOCore
import RouteTable
import SchedModel
import Testing

@testable import RouterDaemon

/// Where a head goes, from the served table alone.
@Suite("Proxy routes")
struct ProxyRouteTests {
  static let slot = Upstream(
    slot: SlotID(app: "web", color: .blue, index: 0), address: "10.0.0.1", port: 8080)
  static let routes = CompiledRoutes(
    RouteTable(
      epoch: 3,
      apps: [
        AppRoutes(
          app: "web", hosts: ["web.test"],
          live: RouteSet(color: .blue, deployment: "d1", image: "web:1", upstreams: [slot]),
          candidate: RouteSet(color: .green, deployment: "d2", image: "web:2", upstreams: [])),
        AppRoutes(app: "new", hosts: ["new.test"]),
      ]))

  static func head(_ host: String, preview: String? = nil) throws -> MessageHead {
    let field = preview.map { "x-preview: \($0)\r\n" } ?? ""
    return try HeadParser.request(
      ByteBuffer(string: "GET / HTTP/1.1\r\nhost: \(host)\r\n\(field)\r\n"),
      previewHeader: "x-preview")
  }

  static let blue = CounterKey(set: SetKey(app: "web", color: .blue), route: .production)
  static let green = CounterKey(set: SetKey(app: "web", color: .green), route: .preview)

  @Test(
    "each head gets a set or a refusal that says why",
    arguments: [
      ("web.test", nil, ProxyRoute.Listener.live, "forward web/blue production"),
      ("WEB.test:8000", nil, .live, "forward web/blue production"),
      ("web.test", "0", .live, "forward web/blue production"),
      ("web.test", "1", .live, "503 counted web/green preview"),
      ("web.test", nil, .preview, "503 counted web/green preview"),
      ("new.test", nil, .live, "503 new has no live set"),
      ("new.test", nil, .preview, "503 new has no candidate set to preview; deploy one first"),
      ("other.test", nil, .live, "404 no app is routed for host 'other.test'"),
    ] as [(String, String?, ProxyRoute.Listener, String)])
  func resolves(
    _ host: String, _ preview: String?, _ listener: ProxyRoute.Listener, _ expected: String
  )
    throws
  {
    let route = ProxyRoute.resolve(
      try Self.head(host, preview: preview), in: Self.routes, listener: listener, defaultApp: nil)
    let seen: String
    switch route {
    case .forward(let set, let counted):
      #expect(set.upstreams == [Self.slot])
      seen = "forward \(counted.set.app)/\(counted.set.color.rawValue) \(counted.route.rawValue)"
    case .refuse(let status, let message, let counted?):
      seen =
        "\(status.code) counted \(counted.set.app)/\(counted.set.color.rawValue) \(counted.route.rawValue)"
      #expect(message.contains("has no healthy slot"))
    case .refuse(let status, let message, nil):
      seen = "\(status.code) \(message)"
    }
    #expect(seen.hasPrefix(expected), "\(host) \(preview ?? "-") \(listener)")
  }
}
