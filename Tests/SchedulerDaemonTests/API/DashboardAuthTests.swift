import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SchedModel
import SchedTestSupport
import Synchronization
import Testing

@testable import SchedulerDaemon

/// The dashboard's login, session cookie and the API's rule for it, over HTTP.
@Suite("Dashboard sessions")
struct DashboardAuthTests {
  @Test(
    "login sets an HttpOnly cookie; the API takes it only with the dashboard header; logout ends it"
  )
  func sessions() async throws {
    let scheduler = try await InProcessScheduler.start()
    let client = HTTPClient(
      eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    let base = "http://127.0.0.1:\(scheduler.apiPort)"
    func fetch(
      _ path: String, method: HTTPMethod = .GET, headers: [(String, String)] = [],
      body: String? = nil
    )
      async throws -> Fetched
    {
      try await TestHTTP.fetch(
        base + path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) },
        client: client)
    }
    let form = [("Content-Type", "application/x-www-form-urlencoded")]

    // Without a session: the login page, and nothing else.
    let anonymous = try await fetch("/dashboard")
    #expect(anonymous.status == 200)
    #expect(String(buffer: anonymous.body).contains("id=\"login\""))
    #expect(anonymous.headers["content-security-policy"]?.contains("script-src 'self'") == true)
    #expect(try await fetch("/dashboard/state").status == 401)
    #expect(try await fetch("/", method: .GET).headers["location"] == "/dashboard")

    let refused = try await fetch(
      "/dashboard/login", method: .POST, headers: form, body: "token=nope")
    #expect(refused.status == 401)
    #expect(String(buffer: refused.body).contains("That token was refused"))

    let login = try await fetch(
      "/dashboard/login", method: .POST, headers: form,
      body:
        "token=\(InProcessScheduler.apiToken.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
    )
    #expect(login.status == 303)
    let setCookie = try #require(login.headers["set-cookie"])
    #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
    #expect(!setCookie.contains(InProcessScheduler.apiToken))  // an id, not the token
    let cookie = String(setCookie.prefix { $0 != ";" })

    let page = try await fetch("/dashboard", headers: [("Cookie", cookie)])
    #expect(String(buffer: page.body).contains("id=\"state\""))
    #expect(try await fetch("/dashboard/state", headers: [("Cookie", cookie)]).status == 200)
    // The API: the cookie alone is not enough (a form on another site could send it)...
    #expect(try await fetch("/v1/nodes", headers: [("Cookie", cookie)]).status == 401)
    // ...with the dashboard's header it is.
    let withHeader = [("Cookie", cookie), ("X-Turnout-Dashboard", "1")]
    #expect(try await fetch("/v1/nodes", headers: withHeader).status == 200)
    // A made-up session id is refused.
    #expect(
      try await fetch(
        "/v1/nodes", headers: [("Cookie", "turnout_session=0123"), ("X-Turnout-Dashboard", "1")]
      )
      .status == 401)

    let logout = try await fetch("/dashboard/logout", method: .POST, headers: [("Cookie", cookie)])
    #expect(logout.status == 303)
    #expect(logout.headers["set-cookie"]?.contains("Max-Age=0") == true)
    #expect(try await fetch("/v1/nodes", headers: withHeader).status == 401)
    #expect(try await fetch("/dashboard/state", headers: [("Cookie", cookie)]).status == 401)
    try await client.shutdown()
    await scheduler.stop()
  }

  @Test("after five refused logins in a minute the form is closed, even to the right token")
  func refusedLoginsAreThrottled() async throws {
    let scheduler = try await InProcessScheduler.start()
    let client = HTTPClient(
      eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    func login(_ token: String) async throws -> Fetched {
      try await TestHTTP.fetch(
        "http://127.0.0.1:\(scheduler.apiPort)/dashboard/login", method: .POST,
        headers: [("Content-Type", "application/x-www-form-urlencoded")],
        body: ByteBuffer(string: "token=\(token)"), client: client)
    }
    for _ in 0..<5 { #expect(try await login("guess").status == 401) }
    let closed = try await login(InProcessScheduler.apiToken)
    #expect(closed.status == 429)
    #expect(String(buffer: closed.body).contains("Too many refused logins"))
    #expect(Int(closed.headers["retry-after"] ?? "") ?? 0 >= 1)
    // The token itself still works on the API.
    #expect(try await scheduler.api.nodes().isEmpty)
    try await client.shutdown()
    await scheduler.stop()
  }

  @Test("refused logins from one address do not close the form to another (14.13)")
  func throttleIsPerAddress() async throws {
    guard TestEnvironment.has(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")) else {
      return
    }
    let scheduler = try await InProcessScheduler.start()
    func login(_ token: String, from source: String) async throws -> String {
      try await run(
        URL(fileURLWithPath: "/usr/bin/curl"),
        [
          "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--interface", source,
          "--data", "token=\(token)", "http://127.0.0.1:\(scheduler.apiPort)/dashboard/login",
        ]
      ).output
    }
    // An attacker on 127.0.0.2 guesses five times and is shut out.
    for _ in 0..<5 { #expect(try await login("guess", from: "127.0.0.2") == "401") }
    #expect(try await login(InProcessScheduler.apiToken, from: "127.0.0.2") == "429")
    // The operator on 127.0.0.1 logs in.
    #expect(try await login(InProcessScheduler.apiToken, from: "127.0.0.1") == "303")
    await scheduler.stop()
  }
}

@Suite("Dashboard login throttle")
struct LoginThrottleTests {
  @Test func theFormOpensAgainWhenTheOldestRefusalAgesOut() throws {
    let clock = Mutex(ContinuousClock.now)
    let sessions = DashboardSessions(
      maxRefused: 2, refusedWindow: .milliseconds(300), now: { clock.withLock { $0 } })
    let client = "10.9.8.7"
    #expect(sessions.loginClosedFor(client: client) == nil)
    sessions.recordRefused(client: client)
    #expect(sessions.loginClosedFor(client: client) == nil)
    sessions.recordRefused(client: client)
    let wait = try #require(sessions.loginClosedFor(client: client))
    #expect(wait > .zero && wait <= .milliseconds(300))
    // Another address is not locked out by it (14.13).
    #expect(sessions.loginClosedFor(client: "10.9.8.6") == nil)
    clock.withLock { $0 += .milliseconds(299) }
    #expect(sessions.loginClosedFor(client: client) == .milliseconds(1))
    clock.withLock { $0 += .milliseconds(1) }
    #expect(sessions.loginClosedFor(client: client) == nil)
  }

  @Test("refusals from a flood of addresses stay bounded")
  func manyAddressesStayBounded() {
    let sessions = DashboardSessions(maxRefused: 1, refusedWindow: .seconds(60), maxClients: 100)
    for i in 0..<150 { sessions.recordRefused(client: "a\(i)") }
    // The newest is still counted; the table did not grow past its bound.
    #expect(sessions.loginClosedFor(client: "a149") != nil)
    #expect(sessions.trackedClients <= 100)
  }
}
