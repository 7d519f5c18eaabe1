import Foundation
import Hummingbird
import OperatorAPI
import SchedModel
import SchedWire

/// The routes of who may do what: join and API tokens, and the apps' secrets.
extension APIRoutes {
  /// Tokens: the join and router tokens (shown and rotated) and the operators' API tokens.
  func addAccess(to groups: RouteGroups) {
    groups.read.get("whoami") { _, context in
      guard let caller = context.caller else {
        throw APIError(.unauthorized, code: "unauthorized", "no caller")
      }
      return JSONResponse.ok(WhoAmI(name: caller.name, role: caller.role))
    }
    groups.admin.get("cluster/join") { _, _ in JSONResponse.ok(tokens.info()) }
    // The path's parameter is `name` as in `DELETE tokens/:name` (the router wants one name).
    groups.admin.post("tokens/:name/rotate") { request, context in
      let name = try context.parameters.require("name")
      guard let role = ["join": PeerRole.agent, "router": .router][name] else {
        throw APIError(
          .notFound, code: "not_found", "no token '\(name)': the tokens are join and router")
      }
      let actor = Self.actor(request, context)
      let token = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await tokens.rotate(role, actor: actor)
      }
      return JSONResponse.ok(TokenRotated(role: name, token: token))
    }
    groups.admin.get("tokens") { _, _ in JSONResponse.ok(TokensResponse(tokens: operators.list())) }
    groups.admin.post("tokens") { request, context in
      let body = try await JSONResponse.decode(CreateTokenRequest.self, from: request)
      let actor = Self.actor(request, context)
      let token = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await operators.create(name: body.name, role: body.role, actor: actor, at: Date())
      }
      return JSONResponse.ok(
        TokenCreated(name: body.name, role: body.role, token: token), status: .created)
    }
    groups.admin.delete("tokens/:name") { request, context in
      let name = try context.parameters.require("name")
      let actor = Self.actor(request, context)
      try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await operators.revoke(name: name, actor: actor, at: Date())
      }
      return JSONResponse.ok(["revoked": name])
    }
  }

  /// An app's secrets: names for readers, values in (never out) for admins.
  func addSecrets(to groups: RouteGroups) {
    let secrets = apps.secrets
    groups.read.get("apps/:name/secrets") { _, context in
      let name = try context.parameters.require("name")
      let names = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await secrets.names(app: name)
      }
      return JSONResponse.ok(SecretsResponse(app: name, secrets: names))
    }
    groups.admin.put("apps/:name/secrets/:secret") { request, context in
      let app = try context.parameters.require("name")
      let secret = try context.parameters.require("secret")
      do throws(ModelError) { try AppSpec.validateName(app) } catch {
        throw APIError(.badRequest, code: "bad_request", error.message)
      }
      let body = try await JSONResponse.decode(SecretValue.self, from: request)
      let actor = Self.actor(request, context)
      try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await secrets.set(body.value, app: app, name: secret, actor: actor, at: Date())
      }
      return JSONResponse.ok(["set": "\(app)/\(secret)"])
    }
    groups.admin.delete("apps/:name/secrets/:secret") { request, context in
      let app = try context.parameters.require("name")
      let secret = try context.parameters.require("secret")
      let actor = Self.actor(request, context)
      try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await secrets.set(nil, app: app, name: secret, actor: actor, at: Date())
      }
      return JSONResponse.ok(["removed": "\(app)/\(secret)"])
    }
  }

  /// Refuses a deploy of an app whose spec names secrets that are not set.
  func requireSecrets(of app: String) async throws {
    guard let spec = await apps.app(named: app)?.spec else { return }
    let named = spec.secrets + spec.secretFiles
    guard !named.isEmpty else { return }
    let set = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
      try await apps.secrets.values(app: app)
    }
    let missing = named.filter { set[$0] == nil }
    guard missing.isEmpty else {
      throw APIError(
        .badRequest, code: "bad_request",
        "\(app) needs secret(s) \(missing.joined(separator: ", ")) that are not set: schedctl secret set \(app) \(missing[0]) < FILE"
      )
    }
  }

  /// The certificates routers serve HTTPS with: views for readers, uploads for admins.
  func addCertificates(to groups: RouteGroups) {
    let served = self.served
    let acme = self.acme
    groups.read.get("certificates") { _, _ in
      JSONResponse.ok(
        CertificatesResponse(certificates: served.views(), acme: await acme?.views() ?? []))
    }
    // An order now, over ACME; answers when it ends (an event either way).
    groups.admin.post("certificates/:name/renew") { _, context in
      let name = try context.parameters.require("name")
      return JSONResponse.ok(
        try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
          guard let acme else {
            throw SchedulerError(
              .invalid,
              "this scheduler has no ACME CA: start schedd with --acme-directory URL, or upload a renewed certificate with schedctl cert upload"
            )
          }
          return try await acme.renew(name)
        })
    }
    groups.read.get("certificates/:name") { _, context in
      let name = try context.parameters.require("name")
      return JSONResponse.ok(
        try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
          try served.view(name)
        })
    }
    groups.admin.put("certificates/:name") { request, context in
      let name = try context.parameters.require("name")
      let body = try await JSONResponse.decode(CertificateUpload.self, from: request)
      let actor = Self.actor(request, context)
      return JSONResponse.ok(
        try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
          try await served.upload(name: name, chain: body.chain, key: body.key, actor: actor)
        })
    }
    groups.admin.delete("certificates/:name") { request, context in
      let name = try context.parameters.require("name")
      let actor = Self.actor(request, context)
      try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await served.remove(name: name, actor: actor)
      }
      return JSONResponse.ok(["removed": name])
    }
  }
}
