import SchedModel

/// One step that brings the node's containers towards what the scheduler wants.
public enum SlotAction: Sendable, Hashable {
  /// No container for the slot: create and start one.
  case create(SlotAssignment)
  /// The slot's container exists but is not running: start it.
  case start(containerID: String, SlotAssignment)
  /// The slot's container is from another deployment or image: remove it, then create.
  case replace(containerID: String, SlotAssignment)
  /// A managed container no slot wants: stop and remove it.
  case remove(containerID: String, name: String)
  /// The node will not run this slot; any container it has is removed.
  case refuse(SlotAssignment, reason: String, containerID: String?)
}

/// Compares desired slots with the containers found and returns what to do. Pure: the agent
/// lists, calls this, and carries out the actions.
///
/// Only containers labelled `turnout.managed=true` are ever considered; a running container of
/// the right deployment is left alone, so restarting the agent or the scheduler restarts nothing.
public enum Reconciler {
  public static func plan(
    desired: [SlotAssignment], observed: [ContainerInfo], permissions: NodePermissions,
    publishAddress: String
  ) -> [SlotAction] {
    var bySlot: [SlotID: [ContainerInfo]] = [:]
    for container in observed {
      guard let slot = ManagedLabels.slot(from: container.labels) else { continue }
      bySlot[slot, default: []].append(container)
    }
    var actions: [SlotAction] = []
    var wanted = Set<SlotID>()
    for assignment in desired.sorted(by: { $0.slot < $1.slot }) {
      wanted.insert(assignment.slot)
      var found = bySlot[assignment.slot] ?? []
      // The deterministic name allows one container per slot; remove any others.
      found.sort {
        ($0.name == assignment.containerName ? 0 : 1, $0.id) < (
          $1.name == assignment.containerName ? 0 : 1, $1.id
        )
      }
      for extra in found.dropFirst() {
        actions.append(.remove(containerID: extra.id, name: extra.name))
      }
      let current = found.first
      let violations = permissions.violations(
        of: assignment.security, network: assignment.network)
      if !violations.isEmpty {
        actions.append(
          .refuse(assignment, reason: violations.joined(separator: "; "), containerID: current?.id))
        continue
      }
      guard let current else {
        actions.append(.create(assignment))
        continue
      }
      if current.labels[ManagedLabels.deployment] != assignment.deployment
        || current.image != assignment.image || current.name != assignment.containerName
        || !publishes(current, assignment)
      {
        actions.append(.replace(containerID: current.id, assignment))
        continue
      }
      switch current.state {
      case .running, .restarting, .removing:
        break
      case .created, .exited, .paused:
        actions.append(.start(containerID: current.id, assignment))
      case .dead:
        actions.append(.replace(containerID: current.id, assignment))
      }
    }
    for (slot, containers) in bySlot.sorted(by: { $0.key < $1.key }) where !wanted.contains(slot) {
      for container in containers {
        actions.append(.remove(containerID: container.id, name: container.name))
      }
    }
    return actions
  }

  /// Whether the container is published where the slot is (a slot re-placed back onto a node
  /// can come with another host port). Unknown bindings count as right.
  static func publishes(_ container: ContainerInfo, _ assignment: SlotAssignment) -> Bool {
    guard assignment.network == .bridge, !container.publishedPorts.isEmpty else { return true }
    return container.publishedPorts.contains { $0.hasSuffix(":\(assignment.hostPort)") }
  }

  /// The container a slot runs as: limits, labels, name, restart policy, the published port,
  /// and its secret files (kept under `secretDirectory/CONTAINER/NAME`).
  public static func containerSpec(
    for assignment: SlotAssignment, node: NodeID, publishAddress: String,
    secretDirectory: String? = nil
  ) -> ContainerSpec {
    var spec = ContainerSpec(
      name: assignment.containerName, image: assignment.image, environment: assignment.env,
      labels: ManagedLabels.of(assignment, node: node), cpuMillis: assignment.resources.cpuMillis,
      memoryBytes: assignment.resources.memoryBytes,
      networkMode: assignment.network == .host ? .host : .bridge,
      containerPort: assignment.containerPort, hostIP: publishAddress,
      hostPort: assignment.hostPort, restartUnlessStopped: true,
      security: assignment.security, log: assignment.log)
    if let secretDirectory, let files = assignment.secretFiles {
      for name in files.keys {
        spec.secretFiles[name] = secretFiles(in: secretDirectory, container: spec.name) + "/" + name
      }
    }
    return spec
  }

  /// Where the agent keeps a container's secret files on the host.
  public static func secretFiles(in directory: String, container: String) -> String {
    directory + "/" + container
  }
}
