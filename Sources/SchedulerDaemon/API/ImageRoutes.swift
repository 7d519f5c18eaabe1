import Foundation
import Hummingbird
import OperatorAPI
import SchedModel

/// `/v1/images`: what `schedctl image` speaks. A push asks which blobs are missing, uploads
/// those (each checked against its digest as it lands), then names the manifest.
struct ImageRoutes {
  let cluster: Cluster
  let apps: AppService
  let images: ImageService

  func add(to groups: RouteGroups) {
    groups.deploy.post("images/blobs/missing") { request, context in
      let body = try await JSONResponse.decode(MissingBlobsRequest.self, from: request)
      return JSONResponse.ok(MissingBlobsResponse(missing: images.missing(body.digests)))
    }
    groups.deploy.put("images/blobs/:digest") { request, context in
      let raw = try context.parameters.require("digest")
      guard let digest = ContentDigest(rawValue: raw) else {
        throw APIError(
          .badRequest, code: "bad_request", "'\(raw)' is not a digest (sha256: and 64 hex digits)")
      }
      let length = request.headers[.contentLength].flatMap(Int64.init)
      let size = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await images.ingest(digest, body: request.body, declaredLength: length)
      }
      return JSONResponse.ok(["digest": digest.rawValue, "size": "\(size)"], status: .created)
    }
    groups.deploy.put("images") { request, context in
      let body = try await JSONResponse.decode(ImageTagRequest.self, from: request)
      let actor = APIRoutes.actor(request, context)
      let image = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await images.tag(body.reference, manifest: body.manifest, actor: actor)
      }
      // A push is when older images may fall out of retention.
      let inUse = await inUseReferences()
      Task { _ = await images.collect(inUse: inUse, actor: "scheduler") }
      return JSONResponse.ok(try await view(of: [image])[0])
    }
    groups.read.get("images") { _, _ in
      JSONResponse.ok(ImagesResponse(images: try await view(of: await images.list())))
    }
    groups.admin.delete("images") { request, context in
      guard let reference = request.uri.queryParameters.get("reference") else {
        throw APIError(.badRequest, code: "bad_request", "name the image: ?reference=web:2")
      }
      let actor = APIRoutes.actor(request, context)
      let inUse = await inUseReferences()
      try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await images.remove(reference, inUse: inUse, actor: actor)
      }
      return JSONResponse.ok(["removed": reference])
    }
    groups.read.get("registries") { _, _ in
      JSONResponse.ok(
        RegistriesResponse(
          registries: await images.registries().map {
            RegistryView(registry: $0.registry, username: $0.username)
          }))
    }
    groups.admin.put("registries/:registry") { request, context in
      let registry = try context.parameters.require("registry")
      let body = try await JSONResponse.decode(RegistryLoginRequest.self, from: request)
      guard !body.username.isEmpty, !body.password.isEmpty else {
        throw APIError(
          .badRequest, code: "bad_request", "both a user name and a password are needed")
      }
      let actor = APIRoutes.actor(request, context)
      try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await images.setCredential(
          RegistryCredential(registry: registry, username: body.username, password: body.password),
          registry: registry, actor: actor)
      }
      // Nodes whose slots pull from it get the credentials now.
      await apps.pushAll()
      return JSONResponse.ok(RegistryView(registry: registry, username: body.username))
    }
    groups.admin.delete("registries/:registry") { request, context in
      let registry = try context.parameters.require("registry")
      let actor = APIRoutes.actor(request, context)
      try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await images.setCredential(nil, registry: registry, actor: actor)
      }
      return JSONResponse.ok(["removed": registry])
    }
    groups.admin.post("images/gc") { request, context in
      let collected = await images.collect(
        inUse: await inUseReferences(), actor: APIRoutes.actor(request, context))
      return JSONResponse.ok(
        ImageCollectResponse(
          images: collected.images, blobs: collected.blobs, bytes: collected.bytes))
    }
  }

  /// The references every set runs, the warm previous set's included.
  private func inUseReferences() async -> Set<String> {
    Set(await apps.state().setList.map(\.image))
  }

  private func view(of list: [StoredImage]) async throws -> [ImageView] {
    let sets = await apps.state().setList
    let reports = await cluster.slotStatuses()
    return list.map { image in
      let users = sets.filter { $0.image == image.reference }
        .map { "\($0.app)/\($0.color.rawValue)" }.sorted()
      let holders = Set(
        reports.values.filter { $0.status.imageID == image.config.rawValue }.map(\.node.rawValue))
      return ImageView(image: image, sets: users, nodes: holders.sorted())
    }
  }
}
