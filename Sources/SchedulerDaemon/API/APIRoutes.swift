import Foundation
import Hummingbird
import Placement
import SchedModel
import SchedWire

/// The operator API: `/v1/...` behind the bearer token, `/healthz` open.
struct APIRoutes {
  let cluster: Cluster
  let apiToken: String

  func router() -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.get("/healthz") { _, _ in JSONResponse.ok(["status": "ok"]) }
    let v1 = router.group("v1").add(middleware: BearerAuth(token: apiToken))
    v1.get("nodes") { _, _ in try await nodes() }
    v1.get("placement") { _, _ in try await placement() }
    v1.post("plan") { request, _ in try await plan(request) }
    v1.get("events") { request, _ in try await events(request) }
    return router
  }

  private func nodes() async throws -> Response {
    let view = try await ClusterView.make(cluster)
    return JSONResponse.ok(NodesResponse(nodes: view.nodeViews))
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
    do {
      switch try Placer.place(setRequest, on: view.placementNodes(forSet: nil)) {
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
      return JSONResponse.error(.badRequest, code: "bad_request", error.message)
    }
  }

  private func events(_ request: Request) async throws -> Response {
    let after = request.uri.queryParameters.get("after", as: Int64.self) ?? 0
    let limit = min(request.uri.queryParameters.get("limit", as: Int.self) ?? 100, 1000)
    let events = try await cluster.store.events(after: after, limit: limit)
    return JSONResponse.ok(EventsResponse(events: events))
  }
}
