import Foundation
import HTTPTypes
import Hummingbird
import Lifecycle
import OperatorAPI
import Placement
import SchedModel
import SchedStore
import SchedWire

/// The operator API: `/v1/...` behind an API token of the role each route needs (or a
/// dashboard session), `/healthz` open, `/metrics` for any token, the dashboard at
/// `/dashboard`, the build webhook behind its signature.
struct APIRoutes {
  let cluster: Cluster
  let apps: AppService
  let routers: RouterHub
  let images: ImageService
  let builds: BuildService
  let operators: OperatorTokens
  /// The certificates routers serve HTTPS with.
  let served: ServedCertificates
  /// Certificates over ACME; nil without an ACME directory.
  let acme: ACMEService?
  /// What `GET /v1/cluster/join` answers, and token rotation.
  let tokens: JoinTokens
  let sessions = DashboardSessions()

  func router() -> Router<APIContext> {
    let router = Router(context: APIContext.self)
    router.get("/healthz") { _, _ in JSONResponse.ok(["status": "ok"]) }
    DashboardRoutes(
      cluster: cluster, apps: apps, routers: routers, builds: builds, tokens: operators,
      sessions: sessions, served: served, acme: acme
    ).add(to: router)
    // Prometheus sends a token too (`authorization: { credentials: TOKEN }`); read is enough.
    router.group("metrics").add(middleware: OperatorAuth(needed: .read, tokens: operators)).get {
      _, _ in
      let text = MetricsExport.text(try await metricsSnapshot())
      return Response(
        status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    BuildRoutes(builds: builds).addHook(to: router)
    let v1 = router.group("v1")
    let groups = RouteGroups(
      read: v1.group().add(
        middleware: OperatorAuth(needed: .read, tokens: operators, sessions: sessions)),
      deploy: v1.group().add(
        middleware: OperatorAuth(needed: .deploy, tokens: operators, sessions: sessions)),
      admin: v1.group().add(
        middleware: OperatorAuth(needed: .admin, tokens: operators, sessions: sessions)))
    addAccess(to: groups)
    groups.read.get("nodes") { _, _ in try await nodes() }
    groups.admin.delete("nodes/:node") { request, context in
      let node = NodeID(try context.parameters.require("node"))
      let actor = Self.actor(request, context)
      let revoked = try await SchedulerErrorHTTP.run { () async throws(SchedulerError) in
        try await cluster.remove(node, actor: actor)
      }
      await apps.clusterChanged()
      return JSONResponse.ok(NodeRemoved(node: node.rawValue, certificatesRevoked: revoked))
    }
    groups.admin.post("replacement/resume") { request, context in
      let actor = Self.actor(request, context)
      return JSONResponse.ok(try await run { try await apps.resumeReplacement(actor: actor) })
    }
    ImageRoutes(cluster: cluster, apps: apps, images: images).add(to: groups)
    BuildRoutes(builds: builds).add(to: groups)
    addApps(to: groups)
    addSecrets(to: groups)
    addCertificates(to: groups)
    return router
  }

  /// Apps: their specs, status, deploys, checks and traffic, and the cluster's placement.
  private func addApps(to groups: RouteGroups) {
    groups.read.get("placement") { _, _ in try await placement() }
    groups.read.post("plan") { request, _ in try await plan(request) }
    groups.read.get("events") { request, _ in try await events(request) }
    groups.read.get("apps") { _, _ in
      JSONResponse.ok(AppsResponse(apps: await apps.apps()))
    }
    groups.admin.put("apps/:name") { request, context in try await applyApp(request, context) }
    groups.read.get("apps/:name") { _, context in
      let name = try context.parameters.require("name")
      var status = try await run { try await apps.status(name) }
      status.lastBuild = await builds.list(app: name, limit: 1).first
      return JSONResponse.ok(status)
    }
    groups.deploy.post("apps/:name/deploy") { request, context in
      let name = try context.parameters.require("name")
      let body = try await JSONResponse.decode(DeployRequest.self, from: request)
      try await requireSecrets(of: name)
      let actor = Self.actor(request, context)
      return JSONResponse.ok(
        try await run { try await apps.deploy(name, image: body.image, actor: actor) })
    }
    groups.read.get("rebalance") { _, _ in JSONResponse.ok(await apps.rebalancePlan()) }
    groups.deploy.post("apps/:name/move") { request, context in
      let name = try context.parameters.require("name")
      let body = try await JSONResponse.decode(MoveRequest.self, from: request)
      try await requireSecrets(of: name)
      let actor = Self.actor(request, context)
      return JSONResponse.ok(
        try await run {
          try await apps.move(
            name, nodes: body.nodes, avoiding: Set(body.avoiding ?? []), actor: actor)
        })
    }
    groups.read.get("samples") { request, _ in
      // ?series=A,B&resolution=10|60&since=UNIX_SECONDS (default: the last hour)
      let query = request.uri.queryParameters
      let series = query.get("series").map { $0.split(separator: ",").map(String.init) } ?? []
      let resolution = query.get("resolution", as: Int64.self) ?? 10
      let since =
        query.get("since", as: Int64.self) ?? Int64(cluster.now().timeIntervalSince1970) - 3600
      guard !series.isEmpty else {
        throw APIError(
          .badRequest, code: "bad_request",
          "name the series: ?series=node/NODE/cpu,set/APP/COLOR/memory,set/APP/COLOR/requests (see README, Metrics)"
        )
      }
      let points: [SamplePoint]
      do throws(StoreError) {
        points = try await cluster.store.samplePoints(
          series: series, resolution: resolution, since: since)
      } catch {
        throw APIError(.internalServerError, code: "internal", "state store: \(error.message)")
      }
      return JSONResponse.ok(points)
    }
    groups.read.get("routers") { _, _ in
      JSONResponse.ok(
        RoutersResponse(epoch: await routers.table.epoch, routers: await routers.views()))
    }
    groups.deploy.post("apps/:name/switch") { request, context in
      let name = try context.parameters.require("name")
      let body = try await JSONResponse.decode(SwitchRequest.self, from: request)
      let actor = Self.actor(request, context)
      return JSONResponse.ok(
        try await run {
          try await apps.switchLive(name, rollback: false, force: body.force, actor: actor)
        })
    }
    groups.deploy.post("apps/:name/verify") { request, context in
      let name = try context.parameters.require("name")
      let actor = Self.actor(request, context)
      return JSONResponse.ok(try await run { try await apps.startVerification(name, actor: actor) })
    }
    groups.read.get("apps/:name/verification") { _, context in
      let name = try context.parameters.require("name")
      return JSONResponse.ok(try await run { try await apps.latestVerification(name) })
    }
    groups.read.get("apps/:name/verifications/:id") { _, context in
      let name = try context.parameters.require("name")
      let id = try context.parameters.require("id")
      return JSONResponse.ok(try await run { try await apps.verification(name, id: id) })
    }
    groups.deploy.post("apps/:name/rollback") { request, context in
      let name = try context.parameters.require("name")
      let actor = Self.actor(request, context)
      return JSONResponse.ok(
        try await run { try await apps.switchLive(name, rollback: true, actor: actor) })
    }
    groups.deploy.post("apps/:name/retire") { request, context in
      let name = try context.parameters.require("name")
      let body = try await JSONResponse.decode(RetireRequest.self, from: request)
      let actor = Self.actor(request, context)
      return JSONResponse.ok(
        try await run {
          try await apps.retire(name, drainTimeoutMillis: body.drainTimeoutMillis, actor: actor)
        })
    }
    groups.deploy.post("apps/:name/sets/:color/stop") { request, context in
      let name = try context.parameters.require("name")
      let raw = try context.parameters.require("color")
      guard let color = Color(rawValue: raw) else {
        throw APIError(
          .badRequest, code: "bad_request", "color must be blue or green, not '\(raw)'")
      }
      let body = try await JSONResponse.decode(StopSetRequest.self, from: request)
      let actor = Self.actor(request, context)
      try await run { try await apps.stopSet(name, color: color, force: body.force, actor: actor) }
      return JSONResponse.ok(["stopped": "\(name)/\(color.rawValue)"])
    }
  }

  private func nodes() async throws -> Response {
    let view = try await ClusterView.make(cluster)
    let replacement = await apps.replacementStatus()
    return JSONResponse.ok(
      NodesResponse(nodes: view.nodeViews, replacement: replacement.isQuiet ? nil : replacement))
  }

  private func placement() async throws -> Response {
    let view = try await ClusterView.make(cluster)
    return JSONResponse.ok(PlacementResponse(slots: view.allocations, nodes: view.nodeViews))
  }

  private func plan(_ request: Request) async throws -> Response {
    let body = try await JSONResponse.decode(PlanRequest.self, from: request)
    let view = try await ClusterView.make(cluster)
    let setRequest = SetRequest(
      count: body.slots,
      demand: Resources(cpuMillis: body.cpuMillis, memoryBytes: body.memoryBytes),
      requiredLabels: body.labels ?? [:], maxPerNode: body.maxPerNode)
    let nodes = view.placementNodes
    do {
      // Off the event loops: a large plan must not hold up the API's other requests.
      let result = try await Self.offLoop { try Placer.place(setRequest, on: nodes) }
      switch result {
      case .placed(let slots):
        return JSONResponse.ok(
          PlanResponse(
            fits: true,
            placed: slots.map { .init(index: $0.index, node: $0.node, hostPort: $0.hostPort) },
            unplaced: []))
      case .unplaced(let slots):
        return JSONResponse.ok(
          PlanResponse(
            fits: false, placed: [],
            unplaced: slots.map { .init(index: $0.index, reason: $0.reason) }))
      }
    } catch {
      let message = (error as? PlacementError)?.message ?? "\(error)"
      return JSONResponse.error(.badRequest, code: "bad_request", message)
    }
  }

  private func applyApp(_ request: Request, _ context: APIContext) async throws -> Response {
    let name = try context.parameters.require("name")
    let spec = try await JSONResponse.decode(AppSpec.self, from: request)
    guard spec.name == name else {
      throw APIError(
        .badRequest, code: "bad_request",
        "the spec names app '\(spec.name)' but the URL names '\(name)'")
    }
    let actor = Self.actor(request, context)
    return JSONResponse.ok(try await run { try await apps.apply(spec, actor: actor) })
  }

  /// Runs CPU-bound `work` on a Dispatch thread, not on the event loop serving this request
  /// (schedd runs Swift concurrency on its event loops).
  static func offLoop<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
  }

  /// Who is asking, for the event log: the name of the token the request was made with, and
  /// what the client says of its user (`X-Turnout-Actor`, unchecked) after it.
  static func actor(_ request: Request, _ context: APIContext) -> String {
    var claimed = request.headers[HTTPTypes.HTTPField.Name("X-Turnout-Actor")!]
    if let text = claimed, text.count > 100 || text.contains(where: \.isNewline) { claimed = nil }
    return (context.caller ?? Caller(name: "operator", role: .read)).actor(claimed: claimed)
  }

  private func metricsSnapshot() async throws -> MetricsExport.Snapshot {
    let state = await apps.state()
    return MetricsExport.Snapshot(
      nodes: await cluster.snapshot(), allocations: state.allocationList,
      reports: await cluster.slotStatuses(), apps: state.appList, sets: state.setList,
      traffic: await routers.trafficByRouter, routers: await routers.views(),
      counters: apps.counters.snapshot, now: cluster.now(), certificates: served.views())
  }

  /// Runs an app operation, turning its failure into the matching HTTP answer: the one place
  /// the lifecycle's errors meet HTTP.
  private func run<T>(_ body: () async throws -> T) async throws -> T {
    do {
      return try await body()
    } catch let error as LifecycleError {
      switch error.code {
      case .invalid: throw APIError(.badRequest, code: "bad_request", error.message)
      case .notFound: throw APIError(.notFound, code: "not_found", error.message)
      case .conflict: throw APIError(.conflict, code: "conflict", error.message)
      case .unavailable: throw APIError(.serviceUnavailable, code: "unavailable", error.message)
      case .failed: throw APIError(.internalServerError, code: "internal", error.message)
      }
    }
  }

  private func events(_ request: Request) async throws -> Response {
    let after = request.uri.queryParameters.get("after", as: Int64.self) ?? 0
    let limit = min(request.uri.queryParameters.get("limit", as: Int.self) ?? 100, 1000)
    let events = try await cluster.store.events(after: after, limit: limit)
    return JSONResponse.ok(EventsResponse(events: events))
  }
}

/// The `/v1` routes by the role they need: a route is added to exactly one.
struct RouteGroups {
  let read: RouterGroup<APIContext>
  let deploy: RouterGroup<APIContext>
  let admin: RouterGroup<APIContext>
}
