import HTTPFraming
import RouteTable

/// A connection's last forwarded route, kept so the keep-alive requests after it (nearly all
/// to the same host) skip the table's look-ups: the app by host and the set's counters on the
/// loop. It holds while the served table is the one it came from and a request names the same
/// host and preview value; everything else a route depends on (the listener, TLS, the default
/// app) is the connection's own. A reference, so a connection carries one word until its
/// second request. Redirects, refusals and challenge fetches are never kept.
final class RouteMemo {
  /// `CompiledRoutes.id` of the table it came from (an id, not the table: an idle connection
  /// does not keep an old table alive).
  let routes: UInt64
  let host: String?
  let preview: String?
  let set: RouteSet
  let counted: CounterKey
  let counters: SetCounters
  let hsts: String?

  init(
    routes: UInt64, host: String?, preview: String?, set: RouteSet, counted: CounterKey,
    counters: SetCounters, hsts: String?
  ) {
    self.routes = routes
    self.host = host
    self.preview = preview
    self.set = set
    self.counted = counted
    self.counters = counters
    self.hsts = hsts
  }

  /// Whether `head`, under `routes`, goes where the memo says.
  func holds(for head: MessageHead, in routes: CompiledRoutes) -> Bool {
    routes.id == self.routes && head.host == host && head.previewValue == preview
  }
}
