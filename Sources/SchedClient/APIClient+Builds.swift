import Foundation
import OperatorAPI
import SchedModel

/// The build calls: order, start once the context is in the store, follow the log.
extension APIClient {
  public func createBuild(_ app: String, _ request: BuildCreateRequest) async throws(ClientError)
    -> BuildView
  {
    try await send(.POST, "/v1/apps/\(app)/builds", body: request, as: BuildView.self)
  }

  public func startBuild(_ id: String, context: ContentDigest?) async throws(ClientError)
    -> BuildView
  {
    try await send(
      .POST, "/v1/builds/\(id)/start", body: BuildStartRequest(context: context),
      as: BuildView.self)
  }

  public func build(_ id: String) async throws(ClientError) -> BuildView {
    try await get("/v1/builds/\(id)", as: BuildView.self)
  }

  public func builds(app: String?, limit: Int = 50) async throws(ClientError) -> [BuildRecord] {
    let query = app.map { "app=\($0)&" } ?? ""
    return try await get("/v1/builds?\(query)limit=\(limit)", as: BuildsResponse.self).builds
  }

  /// Lines `from` on, waiting up to `wait` seconds on the scheduler for some.
  public func buildLog(_ id: String, from: Int, wait: Int) async throws(ClientError)
    -> BuildLogResponse
  {
    try await execute(
      .GET, "/v1/builds/\(id)/log?from=\(from)&wait=\(wait)", body: nil,
      contentType: "application/json", timeout: .seconds(Int64(wait) + 30),
      as: BuildLogResponse.self)
  }
}

extension APIClient {
  public func rotateHookSecret(_ app: String) async throws(ClientError) -> HookSecretResponse {
    try await send(
      .POST, "/v1/apps/\(app)/hooks/secret", body: [String: String](),
      as: HookSecretResponse.self)
  }
}
