import Foundation
import Lifecycle
import OperatorAPI
import SchedModel
import SchedStore
import SchedWire

extension BuildService {
  /// Places, runs and records one build; called in its app's queue.
  func execute(_ id: String) async {
    guard var build = record(id) else { return }
    let spec = await apps.apps().first(where: { $0.name == build.app })?.spec
    let settings = spec?.build ?? BuildSettings()
    let run = "build-\(id)"
    guard let node = await place(build, settings, run: run) else { return }
    build.state = .running
    build.node = node
    build.startedAt = now()
    try? await save(
      build,
      event(build, "build.started", "on node \(node), \(build.kind.rawValue)", actor: build.actor))
    let order = BuildOrder(
      build: id, app: build.app, context: build.context,
      git: build.context == nil ? GitSource(url: build.source, ref: build.ref) : nil,
      dockerfile: build.dockerfile, kind: build.kind, reference: build.reference,
      timeoutMillis: settings.timeoutMillis, cpuMillis: settings.resources.cpuMillis,
      memoryBytes: settings.resources.memoryBytes)
    var failure: BuildFailure?
    do throws(SchedulerError) {
      // The timeout is the builder's to enforce; the margin covers the export and upload.
      let ack = try await cluster.send(
        .build(order), to: node, timeout: .milliseconds(settings.timeoutMillis) + .seconds(900))
      if ack.ok, let outcome = ack.build, let manifest = outcome.manifest {
        let image = try await images.tag(build.reference, manifest: manifest, actor: build.actor)
        build.manifest = image.manifest
        build.image = image.config
        build.layers = outcome.layers
        build.steps = outcome.steps
        build.cachedSteps = outcome.cachedSteps
      } else {
        failure =
          ack.build?.failure ?? BuildFailure(message: ack.message ?? "the builder gave no reason")
      }
    } catch {
      failure = BuildFailure(message: error.message)
    }
    await apps.perform(.releaseTest(run: run))
    build.finishedAt = now()
    build.failure = failure
    build.state = failure == nil ? .succeeded : .failed
    let seconds = String(format: "%.1f", Double(build.durationMillis ?? 0) / 1000)
    let detail =
      failure.map { $0.summary }
      ?? "\(build.reference) (\(build.image?.short ?? "?")) in \(seconds) s, \(build.cachedSteps ?? 0) of \(build.steps ?? 0) steps cached"
    try? await save(
      build,
      event(build, failure == nil ? "build.succeeded" : "build.failed", detail, actor: build.actor))
    logger.info(
      "build ended",
      metadata: [
        "build": "\(id)", "state": "\(build.state.rawValue)", "detail": "\(detail)",
      ])
  }

  /// A builder node with room, reserved; nil (and the build failed) when there is none.
  private func place(_ build: BuildRecord, _ settings: BuildSettings, run: String) async
    -> NodeID?
  {
    let deadline = ContinuousClock.now + placementPatience
    var waiting = false
    while true {
      var reserved: NodeID?
      await apps.perform(
        .reserveTest(
          run: run, demand: settings.resources,
          constraints: [BuildSettings.builderLabel: "true"])
      ) {
        if case .success(.reserved(let node)) = $0 { reserved = node }
      }
      if let reserved { return reserved }
      let builders = await cluster.snapshot().filter {
        $0.spec.labels[BuildSettings.builderLabel] == "true"
      }
      let demand =
        "\(Quantity.formatCPU(settings.resources.cpuMillis)) CPU and \(Quantity.formatMemory(settings.resources.memoryBytes))"
      if builders.isEmpty {
        await fail(
          build,
          "no node is a builder: start sched-agent with --builder on a host whose Docker engine builds (it labels the node builder=true)"
        )
        return nil
      }
      if ContinuousClock.now > deadline {
        await fail(
          build,
          "no builder had \(demand) free within \(placementPatience); builders: \(builders.map(\.id.rawValue).joined(separator: ", ")). Free room, add a builder, or lower build.cpu/build.memory in the spec"
        )
        return nil
      }
      if !waiting {
        waiting = true
        note(build.id, "--> waiting for a builder with \(demand) free")
      }
      try? await Task.sleep(for: .seconds(1))
    }
  }

  private func fail(_ build: BuildRecord, _ message: String) async {
    var build = build
    build.state = .failed
    build.finishedAt = now()
    build.failure = BuildFailure(message: message)
    note(build.id, "error: \(message)")
    try? await save(build, event(build, "build.failed", message, actor: build.actor))
  }

  func event(_ build: BuildRecord, _ kind: String, _ detail: String, actor: String)
    -> ClusterEvent
  {
    ClusterEvent(at: now(), actor: actor, kind: kind, subject: build.id, detail: detail)
  }
}
