import HTTPFraming
import NIOHTTP1
import RouteTable
import SchedModel

/// Where a request goes, decided from its head and the served table alone: the set that serves
/// it, or the router's refusal with the reason a client can act on.
enum ProxyRoute: Equatable {
  /// Forward to a slot of `set`, counted under `counted`.
  case forward(set: RouteSet, counted: CounterKey)
  /// Answered by the router. A refusal that names a set (no healthy slot) is counted there as
  /// a proxy error; one that names none (no app, no set) is counted nowhere.
  case refuse(HTTPResponseStatus, String, counted: CounterKey?)

  /// Which listener a request came in on: production serves the live set of each app, the
  /// preview listener the candidate set.
  enum Listener: Sendable {
    case live
    case preview
  }

  static func resolve(
    _ head: MessageHead, in routes: CompiledRoutes, listener: Listener, defaultApp: String?
  ) -> ProxyRoute {
    guard let app = routes.app(forHost: head.host, defaultApp: defaultApp) else {
      return .refuse(
        .notFound,
        "no app is routed for host '\(head.host ?? "")'; give the app hosts in its spec or start the router with --default-app",
        counted: nil)
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
    return .forward(set: set, counted: counted)
  }
}
