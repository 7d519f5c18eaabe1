import Foundation
import Hummingbird
import Synchronization

/// Dashboard logins: a random id per login, kept in memory for `lifetime` (a scheduler restart
/// logs everyone out). The browser holds the id in an HttpOnly, SameSite=Strict cookie; the
/// operator token itself never leaves the login form.
final class DashboardSessions: Sendable {
  static let cookieName = "turnout_session"
  let lifetime: Duration
  private let sessions = Mutex<[String: ContinuousClock.Instant]>([:])

  init(lifetime: Duration = .seconds(12 * 3600)) {
    self.lifetime = lifetime
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
