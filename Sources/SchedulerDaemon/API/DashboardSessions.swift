import Foundation
import Hummingbird
import Synchronization

/// Dashboard logins: a random id per login, kept in memory for `lifetime` with the caller
/// whose token opened it (a scheduler restart logs everyone out). The browser holds the id in
/// an HttpOnly, SameSite=Strict cookie; the API token itself never leaves the login form. Refused logins are throttled per client
/// address: after `maxRefused` from one address within `refusedWindow`, the form is closed to
/// that address until the oldest of them ages out; other addresses are not locked out by it
/// (and the token still works with schedctl and the API).
final class DashboardSessions: Sendable {
  static let cookieName = "turnout_session"
  let lifetime: Duration
  let maxRefused: Int
  let refusedWindow: Duration
  private let sessions = Mutex<[String: (expires: ContinuousClock.Instant, caller: Caller)]>([:])
  /// Refused logins by client address, oldest first.
  private let refused = Mutex<[String: [ContinuousClock.Instant]]>([:])
  /// Addresses tracked at most: past it, the ones whose refusals all aged out go first, then
  /// the oldest, so a flood of addresses cannot grow the table without end.
  let maxClients: Int
  /// The time (injected: tests move it by hand).
  private let now: @Sendable () -> ContinuousClock.Instant

  init(
    lifetime: Duration = .seconds(12 * 3600), maxRefused: Int = 5,
    refusedWindow: Duration = .seconds(60), maxClients: Int = 10_000,
    now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
  ) {
    self.now = now
    self.maxClients = maxClients
    self.lifetime = lifetime
    self.maxRefused = maxRefused
    self.refusedWindow = refusedWindow
  }

  /// How long the login form stays closed to `client`, or nil when it may try now.
  func loginClosedFor(client: String) -> Duration? {
    let now = self.now()
    return refused.withLock { table in
      var times = table[client] ?? []
      times.removeAll { $0 + refusedWindow <= now }
      table[client] = times.isEmpty ? nil : times
      guard times.count >= maxRefused, let oldest = times.first else { return nil }
      return oldest + refusedWindow - now
    }
  }

  /// How many addresses have refusals counted.
  var trackedClients: Int { refused.withLock { $0.count } }

  /// A login from `client` was refused.
  func recordRefused(client: String) {
    let now = self.now()
    refused.withLock { table in
      if table[client] == nil, table.count >= maxClients {
        table = table.filter { $0.value.contains { $0 + refusedWindow > now } }
        if table.count >= maxClients,
          let oldest = table.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key
        {
          table[oldest] = nil
        }
      }
      table[client, default: []].append(now)
    }
  }

  /// Starts a session for `caller`; returns its id.
  func create(for caller: Caller) -> String {
    var generator = SystemRandomNumberGenerator()
    let id = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    let now = self.now()
    sessions.withLock { table in
      table = table.filter { $0.value.expires > now }
      table[id] = (now + lifetime, caller)
    }
    return id
  }

  /// The caller of a live session, or nil.
  func caller(ofSession id: String) -> Caller? {
    let now = self.now()
    return sessions.withLock { table in
      guard let entry = table[id], entry.expires > now else { return nil }
      return entry.caller
    }
  }

  func remove(_ id: String) {
    _ = sessions.withLock { $0.removeValue(forKey: id) }
  }

  /// The session id of `request`'s cookie, when it names a live session.
  func session(of request: Request) -> String? {
    guard let id = request.cookies[Self.cookieName]?.value, caller(ofSession: id) != nil else {
      return nil
    }
    return id
  }

  /// The caller of `request`'s session, when its cookie names a live one.
  func caller(of request: Request) -> Caller? {
    request.cookies[Self.cookieName].flatMap { caller(ofSession: $0.value) }
  }

  func setCookie(_ id: String) -> String {
    "\(Self.cookieName)=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(lifetime.components.seconds)"
  }

  static let clearCookie = "\(cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
}
