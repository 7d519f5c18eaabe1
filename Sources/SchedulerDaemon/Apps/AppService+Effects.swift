import Foundation
import Lifecycle
import SchedModel
import SchedStore
import SchedWire

/// The effects the lifecycle's actions run: writes to the store and slot lists to nodes.
extension AppService {
  /// Commits one write, synced to disk, before the core takes it as done.
  nonisolated func commit(_ write: Write) async throws(StoreError) {
    switch write {
    case .app(let app, let events), .restore(let app, let events):
      try await store.saveApp(app, events: events)
    case .live(let name, let color, let at, let events):
      let (committed, durable) = store.startSettingLive(name, to: color, at: at, events: events)
      try await committed.result.get()
      try await durable.result.get()
    case .set(let app, let color, let set, let allocations, let events):
      try await store.commitSet(
        app: app, color: color, set: set, allocations: allocations, events: events)
    case .events(let events):
      try await store.appendEvents(events)
    case .verification(let verification, let events):
      try await store.saveVerification(verification, events: events)
    }
  }

  /// Sends each node its complete slot list. A node that is not connected gets it when it
  /// registers again.
  func push(to nodes: Set<NodeID>) async {
    await withTaskGroup(of: Void.self) { group in
      for node in nodes {
        group.addTask { await self.push(to: node) }
      }
    }
  }

  /// Sends every node with slots its list again (after registry credentials changed).
  func pushAll() async {
    await push(to: Set(core.desired.allocations.values.map(\.node)))
  }

  /// Sends `node` its slot list. Pushes to one node never overlap: a push asked for while one
  /// is under way makes that one go round again with the list as it is then, so the last list a
  /// node receives is always the newest.
  func push(to node: NodeID) async {
    dirty.insert(node)
    guard pushing.insert(node).inserted else { return }
    defer { pushing.remove(node) }
    while dirty.remove(node) != nil {
      await sendAssignments(to: node)
    }
  }

  private func sendAssignments(to node: NodeID) async {
    let slots = await withSecrets(core.assignments(for: node))
    var sources: [ImageSource] = []
    for reference in Set(slots.map(\.image)).sorted() {
      if let source = await images.source(for: reference) { sources.append(source) }
    }
    let registries = await images.credentials(for: slots.map(\.image))
    do {
      let ack = try await cluster.send(
        .assign(AssignSlots(slots: slots, images: sources, registries: registries)), to: node,
        timeout: commandTimeout)
      logger.debug(
        "slots sent",
        metadata: ["node.id": "\(node)", "slots": "\(slots.count)", "ack": "\(ack.message ?? "")"])
      if !ack.ok {
        logger.warning(
          "node refused its slots",
          metadata: ["node.id": "\(node)", "reason": "\(ack.message ?? "")"])
      }
    } catch  where error.code == .nodeNotConnected {
      logger.debug(
        "node not connected; it gets its slots when it registers", metadata: ["node.id": "\(node)"])
    } catch {
      logger.warning(
        "cannot send slots to node", metadata: ["node.id": "\(node)", "error": "\(error)"])
    }
  }

  /// `slots` with their apps' secrets filled in, as environment variables or files: done here,
  /// on the way to the node, so the scheduler's state, events and logs never hold a value. A
  /// secret that is not set is left out, with a warning that names it.
  func withSecrets(_ slots: [SlotAssignment]) async -> [SlotAssignment] {
    var out = slots
    for index in out.indices {
      let app = out[index].slot.app
      guard let spec = core.desired.apps[app]?.spec,
        !spec.secrets.isEmpty || !spec.secretFiles.isEmpty
      else { continue }
      let values: [String: String]
      do { values = try await secrets.values(app: app) } catch {
        logger.error(
          "cannot open the app's secrets; its slots are sent without them",
          metadata: ["app": "\(app)", "error": "\(error.message)"])
        continue
      }
      let missing = (spec.secrets + spec.secretFiles).filter { values[$0] == nil }
      if !missing.isEmpty {
        logger.warning(
          "secrets the app names are not set; its slots are sent without them",
          metadata: ["app": "\(app)", "secrets": "\(missing.joined(separator: ","))"])
      }
      for name in spec.secrets { out[index].env[name] = values[name] }
      var files: [String: String] = [:]
      for name in spec.secretFiles { files[name] = values[name] }
      out[index].secretFiles = files.isEmpty ? nil : files
    }
    return out
  }
}
