import Foundation
import Hummingbird
import Synchronization

/// Dashboard logins: a random id per login, kept in memory for `lifetime` (a scheduler restart
/// logs everyone out). The browser holds the id in an HttpOnly, SameSite=Strict cookie; the
/// operator token itself never leaves the login form. Refused logins are throttled: after
/// `maxRefused` within `refusedWindow`, the form is closed until the oldest of them ages out
/// (the token still works with schedctl and the API).
final class DashboardSessions: Sendable {
  static let cookieName = "turnout_session"
  let lifetime: Duration
  let maxRefused: Int
  let refusedWindow: Duration
  private let sessions = Mutex<[String: ContinuousClock.Instant]>([:])
  private let refused = Mutex<[ContinuousClock.Instant]>([])

  init(
    lifetime: Duration = .seconds(12 * 3600), maxRefused: Int = 5,
    refusedWindow: Duration = .seconds(60)
  ) {
    self.lifetime = lifetime
    self.maxRefused = maxRefused
    self.refusedWindow = refusedWindow
  }

  /// How long the login form stays closed, or nil when a login may be tried now.
  func loginClosedFor() -> Duration? {
    let now = ContinuousClock.now
    return refused.withLock { times in
      times.removeAll { $0 + refusedWindow <= now }
      guard times.count >= maxRefused, let oldest = times.first else { return nil }
      return oldest + refusedWindow - now
    }
  }

  /// A login was refused.
  func recordRefused() {
    let now = ContinuousClock.now
    refused.withLock { $0.append(now) }
  }

  /// Starts a session; returns its id.
  func create() -> String {
    var generator = SystemRandomNumberGenerator()
    let id = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    let now = ContinuousClock.now
    sessions.withLock { table in
      table = table.filter { $0.value > now }
      table[id] = now + lifetime
    }
    return id
  }

  func isValid(_ id: String) -> Bool {
    let now = ContinuousClock.now
    return sessions.withLock { ($0[id].map { $0 > now }) ?? false }
  }

  func remove(_ id: String) {
    _ = sessions.withLock { $0.removeValue(forKey: id) }
  }

  /// The session id of `request`'s cookie, when it names a live session.
  func session(of request: Request) -> String? {
    guard let id = request.cookies[Self.cookieName]?.value, isValid(id) else { return nil }
    return id
  }

  func setCookie(_ id: String) -> String {
    "\(Self.cookieName)=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(lifetime.components.seconds)"
  }

  static let clearCookie = "\(cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
}
