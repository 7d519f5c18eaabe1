import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OperatorAPI
import SchedModel

/// `/v1/.../builds`: what `schedctl build` speaks. The order first (refused over the context
/// bound before any byte is sent), the context as a blob of the image store, then the start;
/// the log is read by long polls.
struct BuildRoutes {
  let builds: BuildService

  /// The webhook: outside the bearer token, authenticated by the body's signature.
  func addHook(to router: Router<APIContext>) {
    router.post("/v1/apps/:name/hooks/build") { request, context in
      let name = try context.parameters.require("name")
      let body: ByteBuffer
      do { body = try await request.body.collect(upTo: 1 << 20) } catch {
        throw APIError(.contentTooLarge, code: "too_large", "a hook's body is at most 1 MiB")
      }
      let signature =
        request.headers[HTTPField.Name("X-Hub-Signature-256")!]
        ?? request.headers[HTTPField.Name("X-Turnout-Signature")!]
      let view = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await builds.hook(name, body: Array(body.readableBytesView), signature: signature)
      }
      return JSONResponse.ok(view, status: .accepted)
    }
  }

  func add(to groups: RouteGroups) {
    groups.admin.post("apps/:name/hooks/secret") { request, context in
      let name = try context.parameters.require("name")
      let actor = APIRoutes.actor(request, context)
      let secret = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await builds.rotateHookSecret(name, actor: actor)
      }
      return JSONResponse.ok(HookSecretResponse(app: name, secret: secret), status: .created)
    }
    groups.deploy.post("apps/:name/builds") { request, context in
      let name = try context.parameters.require("name")
      let body = try await JSONResponse.decode(BuildCreateRequest.self, from: request)
      let actor = APIRoutes.actor(request, context)
      let view = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await builds.create(name, body, actor: actor)
      }
      return JSONResponse.ok(view, status: .created)
    }
    groups.deploy.post("builds/:id/start") { request, context in
      let id = try context.parameters.require("id")
      let body = try await JSONResponse.decode(BuildStartRequest.self, from: request)
      return JSONResponse.ok(
        try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
          try await builds.start(id, context: body.context)
        }, status: .accepted)
    }
    groups.read.get("builds") { request, context in
      let app = request.uri.queryParameters.get("app")
      let limit = min(request.uri.queryParameters.get("limit", as: Int.self) ?? 50, 500)
      return JSONResponse.ok(BuildsResponse(builds: await builds.list(app: app, limit: limit)))
    }
    groups.read.get("builds/:id") { _, context in
      let id = try context.parameters.require("id")
      guard let view = await builds.get(id) else {
        throw APIError(.notFound, code: "not_found", "no build '\(id)'")
      }
      return JSONResponse.ok(view)
    }
    groups.read.get("builds/:id/log") { request, context in
      let id = try context.parameters.require("id")
      let from = request.uri.queryParameters.get("from", as: Int.self) ?? 0
      let wait = min(request.uri.queryParameters.get("wait", as: Int.self) ?? 0, 30)
      return JSONResponse.ok(
        try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
          try await builds.log(id, from: from, wait: .seconds(wait))
        })
    }
  }
}

/// The scheduler's service errors (image store, builds) as HTTP answers, in one place.
enum SchedulerErrorHTTP {
  static func run<T>(_ body: () async throws(SchedulerError) -> T) async throws -> T {
    do {
      return try await body()
    } catch {
      switch error.code {
      case .notFound: throw APIError(.notFound, code: "not_found", error.message)
      case .invalid: throw APIError(.badRequest, code: "bad_request", error.message)
      case .conflict: throw APIError(.conflict, code: "conflict", error.message)
      case .tooLarge: throw APIError(.contentTooLarge, code: "too_large", error.message)
      case .unauthorized: throw APIError(.unauthorized, code: "unauthorized", error.message)
      case .diskFull:
        throw APIError(
          HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), code: "disk_full",
          error.message)
      default: throw APIError(.internalServerError, code: "internal", error.message)
      }
    }
  }
}
