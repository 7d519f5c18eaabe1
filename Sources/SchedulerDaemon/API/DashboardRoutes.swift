import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import OperatorAPI
import SchedModel
import SchedWire

/// The dashboard on the API port: `/dashboard` (the page, or the login form without a
/// session), `/dashboard/state` (the part the page refreshes), login and logout, and the
/// page's own stylesheet and script. Its buttons call the `/v1` API with the session.
struct DashboardRoutes {
  let cluster: Cluster
  let apps: AppService
  let routers: RouterHub
  let builds: BuildService
  let tokens: OperatorTokens
  let sessions: DashboardSessions
  let served: ServedCertificates
  let acme: ACMEService?

  /// Graphs reach this far back.
  static let window: Int64 = 1800

  func add(to router: Router<APIContext>) {
    router.get("/") { _, _ in Self.redirect("/dashboard") }
    router.get("dashboard") { request, _ in
      guard let caller = signedIn(request) else { return Self.html(LoginPage.render()) }
      var model = try await model()
      model.viewer = .init(name: caller.name, role: caller.role)
      return Self.html(DashboardPage.page(model))
    }
    router.get("dashboard/state") { request, _ in
      guard signedIn(request) != nil else {
        return Self.html("<p>log in again</p>", status: .unauthorized)
      }
      return Self.html(DashboardPage.state(try await model()))
    }
    router.post("dashboard/login") { request, context in
      let client = context.clientHost
      if let wait = sessions.loginClosedFor(client: client) {
        let seconds = max(1, Int((RouterHub.millis(wait) / 1000).rounded(.up)))
        var response = Self.html(
          LoginPage.render(
            message:
              "Too many refused logins from \(client) in the last \(sessions.refusedWindow.components.seconds) s: the form is closed to it for \(seconds) s. The operator token keeps working with schedctl."
          ), status: .tooManyRequests)
        response.headers[.retryAfter] = String(seconds)
        return response
      }
      let body = try await JSONResponse.body(of: request, limit: 16 << 10)
      let presented = Self.formValue("token", in: String(buffer: body)) ?? ""
      guard let caller = tokens.authenticate(presented) else {
        sessions.recordRefused(client: client)
        return Self.html(
          LoginPage.render(
            message:
              "That token was refused. Use an API token of this scheduler (schedctl token create NAME --role read makes one)."
          ), status: .unauthorized)
      }
      var response = Self.redirect("/dashboard")
      response.headers[.setCookie] = sessions.setCookie(sessions.create(for: caller))
      return response
    }
    router.post("dashboard/logout") { request, _ in
      if let id = sessions.session(of: request) { sessions.remove(id) }
      var response = Self.redirect("/dashboard")
      response.headers[.setCookie] = DashboardSessions.clearCookie
      return response
    }
    router.get("dashboard/style.css") { _, _ in
      Self.asset(Assets.style, type: "text/css; charset=utf-8")
    }
    router.get("dashboard/app.js") { _, _ in
      Self.asset(Assets.script, type: "text/javascript; charset=utf-8")
    }
  }

  /// The caller of the request's live session.
  func signedIn(_ request: Request) -> Caller? {
    OperatorAuth.sessionCaller(request, sessions: sessions, tokens: tokens)
  }

  /// Reads everything one page shows.
  func model() async throws -> DashboardModel {
    let view = try await ClusterView.make(cluster)
    var statuses: [AppStatusResponse] = []
    for app in await apps.apps().sorted(by: { $0.name < $1.name }) {
      if let status = try? await apps.status(app.name) { statuses.append(status) }
    }
    let now = Int64(cluster.now().timeIntervalSince1970)
    let series = statuses.flatMap { DashboardModel.series(app: $0.app.name) }
    let points =
      series.isEmpty
      ? []
      : try await cluster.store.samplePoints(
        series: series, resolution: 10, since: now - Self.window)
    var model = DashboardModel(
      nodes: view.nodeViews, apps: statuses, routers: await routers.views(),
      events: try await cluster.store.recentEvents(limit: 40),
      samples: Dictionary(grouping: points, by: \.series), now: now, window: Self.window)
    model.builds = await builds.list(app: nil, limit: 10)
    model.buildLogs = await builds.runningTails(lines: 15)
    model.certificates = CertificatesResponse(
      certificates: served.views(), acme: await acme?.views() ?? [])
    return model
  }

  /// The value of `name` in an `application/x-www-form-urlencoded` body.
  static func formValue(_ name: String, in body: String) -> String? {
    for pair in body.split(separator: "&") {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2, parts[0] == name else { continue }
      return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
    return nil
  }

  /// Pages may load only the scheduler's own script and style, and may not be framed.
  static let securityHeaders: HTTPFields = [
    HTTPField.Name("Content-Security-Policy")!:
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
    .cacheControl: "no-store",
  ]

  static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    var headers = securityHeaders
    headers[.contentType] = "text/html; charset=utf-8"
    return Response(
      status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
  }

  static func asset(_ text: String, type: String) -> Response {
    var headers = securityHeaders
    headers[.contentType] = type
    return Response(
      status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
  }

  static func redirect(_ location: String) -> Response {
    Response(status: .seeOther, headers: [.location: location])
  }
}
