import HTTPTypes
import Hummingbird
import OperatorAPI
import SchedWire

/// Lets a request through only with `Authorization: Bearer <api token>`, or from the dashboard:
/// a live session cookie together with the `X-Turnout-Dashboard` header, which a page on
/// another site cannot send without the scheduler's consent.
struct BearerAuth<Context: RequestContext>: RouterMiddleware {
  let token: String
  var sessions: DashboardSessions?

  static var dashboardHeader: HTTPField.Name { HTTPField.Name("X-Turnout-Dashboard")! }

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    if request.headers[.authorization] == nil, request.headers[Self.dashboardHeader] != nil,
      let sessions, sessions.session(of: request) != nil
    {
      return try await next(request, context)
    }
    guard let header = request.headers[.authorization] else {
      return JSONResponse.error(
        .unauthorized, code: "unauthorized",
        "missing bearer token; pass --token or set TURNOUT_API_TOKEN to the scheduler's API token")
    }
    let presented = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
    guard Admission.constantTimeEqual(presented, token) else {
      return JSONResponse.error(
        .unauthorized, code: "unauthorized",
        "bearer token refused; use the scheduler's API token (schedd --api-token / TURNOUT_API_TOKEN)"
      )
    }
    return try await next(request, context)
  }
}
