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
    case .redirect(let location):
      seen = "redirect \(location)"
    case .challenge(let keyAuthorization):
      seen = "challenge \(keyAuthorization)"
    case .forward(let set, let counted, _):
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

  @Test(
    "an app that asks for HTTPS: plain production requests are redirected (when the router has an HTTPS listener), HTTPS answers carry HSTS, preview is left alone"
  )
  func httpsRedirectAndHSTS() throws {
    let secureApp = AppRoutes(
      app: "shop", hosts: ["shop.test"],
      live: RouteSet(color: .blue, deployment: "d1", image: "shop:1", upstreams: [Self.slot]),
      httpsRedirect: true, hsts: "max-age=600")
    let routes = CompiledRoutes(RouteTable(epoch: 1, apps: [secureApp]))
    let head = try HeadParser.request(
      ByteBuffer(string: "GET /cart?id=7 HTTP/1.1\r\nhost: Shop.test:8080\r\n\r\n"),
      previewHeader: nil)
    func resolve(_ listener: ProxyRoute.Listener, secure: Bool, httpsPort: Int?) -> ProxyRoute {
      ProxyRoute.resolve(
        head, in: routes, listener: listener, defaultApp: nil, secure: secure,
        httpsPort: httpsPort)
    }
    #expect(
      resolve(.live, secure: false, httpsPort: 8443)
        == .redirect(location: "https://shop.test:8443/cart?id=7"))
    #expect(
      resolve(.live, secure: false, httpsPort: 443)
        == .redirect(location: "https://shop.test/cart?id=7"))
    // No HTTPS listener on this router: served as it is, no HSTS over plain HTTP.
    guard case .forward(_, _, nil) = resolve(.live, secure: false, httpsPort: nil) else {
      Issue.record("a router without HTTPS redirected")
      return
    }
    guard case .forward(_, _, "max-age=600") = resolve(.live, secure: true, httpsPort: 8443)
    else {
      Issue.record("HTTPS answers lack HSTS")
      return
    }
    guard case .refuse = resolve(.preview, secure: false, httpsPort: 8443) else {
      Issue.record("the preview listener redirected")
      return
    }
  }

  @Test(
    "ACME challenge fetches are answered from the tokens held, on the plain production listener only, whatever the host",
    arguments: [
      (
        "GET /.well-known/acme-challenge/tok1", "shop.test", false, ProxyRoute.Listener.live,
        "challenge tok1.thumb"
      ),
      (
        "HEAD /.well-known/acme-challenge/tok1", "nobody.test", false, .live, "challenge tok1.thumb"
      ),
      (
        "GET /.well-known/acme-challenge/other", "shop.test", false, .live,
        "404 this router holds no ACME challenge token 'other'"
      ),
      // Not a challenge: HTTPS, the preview listener, a POST, another path.
      ("GET /.well-known/acme-challenge/tok1", "shop.test", true, .live, "forward"),
      ("GET /.well-known/acme-challenge/tok1", "shop.test", false, .preview, "503"),
      ("POST /.well-known/acme-challenge/tok1", "shop.test", false, .live, "redirect"),
      ("GET /.well-known/acme-challenge", "shop.test", false, .live, "redirect"),
    ] as [(String, String, Bool, ProxyRoute.Listener, String)])
  func challenges(
    _ line: String, _ host: String, _ secure: Bool, _ listener: ProxyRoute.Listener,
    _ expected: String
  ) throws {
    let app = AppRoutes(
      app: "shop", hosts: ["shop.test"],
      live: RouteSet(color: .blue, deployment: "d1", image: "shop:1", upstreams: [Self.slot]),
      httpsRedirect: true)
    let head = try HeadParser.request(
      ByteBuffer(string: "\(line) HTTP/1.1\r\nhost: \(host)\r\n\r\n"), previewHeader: nil)
    let route = ProxyRoute.resolve(
      head, in: CompiledRoutes(RouteTable(epoch: 1, apps: [app])), listener: listener,
      defaultApp: "shop", secure: secure, httpsPort: 8443,
      challenge: { $0 == "tok1" ? "tok1.thumb" : nil })
    let seen: String
    switch route {
    case .challenge(let keyAuthorization): seen = "challenge \(keyAuthorization)"
    case .forward: seen = "forward"
    case .redirect: seen = "redirect"
    case .refuse(let status, let message, _): seen = "\(status.code) \(message)"
    }
    #expect(seen.hasPrefix(expected), "\(line) \(host) secure: \(secure) \(listener)")
  }
}
