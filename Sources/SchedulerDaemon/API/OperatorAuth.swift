import HTTPTypes
import Hummingbird
import OperatorAPI
import SchedModel

/// Lets a request through only when its caller's role permits `needed`: the caller is the API
/// token in `Authorization: Bearer <token>`, or the dashboard's session (its cookie together
/// with the `X-Turnout-Dashboard` header, which a page on another site cannot send without
/// the scheduler's consent). No token or an unknown one is 401; a token whose role is too low
/// is 403. The handler finds the caller in the context.
struct OperatorAuth: RouterMiddleware {
  typealias Context = APIContext
  let needed: OperatorRole
  let tokens: OperatorTokens
  var sessions: DashboardSessions?

  static var dashboardHeader: HTTPField.Name { HTTPField.Name("X-Turnout-Dashboard")! }

  func handle(
    _ request: Request, context: APIContext,
    next: (Request, APIContext) async throws -> Response
  ) async throws -> Response {
    var context = context
    let caller: Caller
    if request.headers[.authorization] == nil, request.headers[Self.dashboardHeader] != nil,
      let sessions, let session = Self.sessionCaller(request, sessions: sessions, tokens: tokens)
    {
      caller = session
    } else {
      guard let header = request.headers[.authorization] else {
        return JSONResponse.error(
          .unauthorized, code: "unauthorized",
          "missing bearer token; pass --token or set TURNOUT_API_TOKEN to an API token (schedctl token create makes one)"
        )
      }
      let presented = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
      guard let known = tokens.authenticate(presented) else {
        return JSONResponse.error(
          .unauthorized, code: "unauthorized",
          "bearer token refused: it is no API token of this scheduler (revoked, mistyped, or a join token); schedctl token ls lists the names of the valid ones"
        )
      }
      caller = known
    }
    guard caller.role.permits(needed) else {
      return JSONResponse.error(
        .forbidden, code: "forbidden",
        "token '\(caller.name)' has role \(caller.role.rawValue), and this needs \(needed.rawValue) (\(needed.summary)); ask an admin for a token with that role (schedctl token create NAME --role \(needed.rawValue))"
      )
    }
    context.caller = caller
    return try await next(request, context)
  }

  /// The caller of `request`'s dashboard session, while the session lives and the token it
  /// was opened with is not revoked.
  static func sessionCaller(
    _ request: Request, sessions: DashboardSessions, tokens: OperatorTokens
  ) -> Caller? {
    guard let caller = sessions.caller(of: request), tokens.stillValid(caller) else { return nil }
    return caller
  }
}
