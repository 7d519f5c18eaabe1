import HTTPFraming
import NIOHTTP1
import RouteTable
import SchedModel

/// Where a request goes, decided from its head and the served table alone: the set that serves
/// it, or the router's refusal with the reason a client can act on.
enum ProxyRoute: Equatable {
  /// Forward to a slot of `set`, counted under `counted`; an answer over HTTPS carries
  /// `strict-transport-security: hsts` when the app asks for it.
  case forward(set: RouteSet, counted: CounterKey, hsts: String? = nil)
  /// Plain HTTP to an app that wants HTTPS: a 308 to `location`.
  case redirect(location: String)
  /// An ACME HTTP-01 fetch of a token this router holds: its key authorization, as it is.
  case challenge(keyAuthorization: String)
  /// Answered by the router. A refusal that names a set (no healthy slot) is counted there as
  /// a proxy error; one that names none (no app, no set) is counted nowhere.
  case refuse(HTTPResponseStatus, String, counted: CounterKey?)

  /// Where ACME HTTP-01 challenges are fetched (RFC 8555 section 8.3).
  static let challengePrefix = "/.well-known/acme-challenge/"
  static let challengePrefixBytes = Array(challengePrefix.utf8)

  /// Which listener a request came in on: production serves the live set of each app, the
  /// preview listener the candidate set.
  enum Listener: Sendable {
    case live
    case preview
  }

  /// `secure`: the request came over TLS. `httpsPort`: this router's HTTPS port, when it has
  /// an HTTPS listener (plain production requests of apps that ask are redirected to it).
  /// `challenge`: the key authorization for an ACME token, if this router holds it; asked
  /// only for `GET /.well-known/acme-challenge/TOKEN` on the plain production listener,
  /// whatever the host (the CA asks for the name being proved).
  static func resolve(
    _ head: MessageHead, in routes: CompiledRoutes, listener: Listener, defaultApp: String?,
    secure: Bool = false, httpsPort: Int? = nil,
    challenge: (String) -> String? = { _ in nil }
  ) -> ProxyRoute {
    if isChallenge(head, listener: listener, secure: secure) {
      let token = String(head.target.dropFirst(challengePrefix.count))
      guard let keyAuthorization = challenge(token) else {
        return .refuse(
          .notFound, "this router holds no ACME challenge token '\(token)'", counted: nil)
      }
      return .challenge(keyAuthorization: keyAuthorization)
    }
    guard let app = routes.app(forHost: head.host, defaultApp: defaultApp) else {
      return .refuse(
        .notFound,
        "no app is routed for host '\(head.host ?? "")'; give the app hosts in its spec or start the router with --default-app",
        counted: nil)
    }
    if app.httpsRedirect, !secure, listener == .live, let httpsPort, let host = head.host {
      let bare = RouteTable.bareHost(host)
      let authority = httpsPort == 443 ? bare : "\(bare):\(httpsPort)"
      return .redirect(location: "https://\(authority)\(head.target)")
    }
    let preview =
      listener == .preview || head.previewValue.map { $0 != "0" && !$0.isEmpty } ?? false
    guard let set = preview ? app.candidate : app.live else {
      return .refuse(
        .serviceUnavailable,
        preview
          ? "\(app.app) has no candidate set to preview; deploy one first"
          : "\(app.app) has no live set", counted: nil)
    }
    let counted = CounterKey(
      set: SetKey(app: app.app, color: set.color), route: preview ? .preview : .production)
    guard !set.upstreams.isEmpty else {
      return .refuse(
        .serviceUnavailable,
        "the \(set.color.rawValue) set of \(app.app) has no healthy slot", counted: counted)
    }
    return .forward(set: set, counted: counted, hsts: secure ? app.hsts : nil)
  }

  /// Whether `head` fetches an ACME HTTP-01 challenge, which the plain production listener
  /// answers itself whatever the host.
  static func isChallenge(_ head: MessageHead, listener: Listener, secure: Bool) -> Bool {
    !secure && listener == .live && (head.method == .get || head.method == .head)
      && head.targetStarts(with: challengePrefixBytes)
  }
}
