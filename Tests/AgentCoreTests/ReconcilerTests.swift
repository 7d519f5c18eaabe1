import AgentCore
import SchedModel
import Testing

@Suite("Reconciler")
struct ReconcilerTests {
  let node: NodeID = "n1"

  func assignment(
    _ index: Int, deployment: String = "d1", image: String = "web:1",
    security: SecurityRequest = SecurityRequest(), network: NetworkMode = .bridge
  ) -> SlotAssignment {
    SlotAssignment(
      slot: SlotID(app: "web", color: .blue, index: index), deployment: deployment, image: image,
      resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20), hostPort: 20000 + index,
      containerPort: 8080, network: network, security: security)
  }

  func container(_ a: SlotAssignment, id: String, state: ContainerInfo.State = .running)
    -> ContainerInfo
  {
    ContainerInfo(
      id: id, name: a.containerName, image: a.image, labels: ManagedLabels.of(a, node: node),
      state: state)
  }

  func plan(
    _ desired: [SlotAssignment], _ observed: [ContainerInfo],
    permissions: NodePermissions = NodePermissions()
  ) -> [SlotAction] {
    Reconciler.plan(
      desired: desired, observed: observed, permissions: permissions, publishAddress: "127.0.0.1")
  }

  @Test func runningContainersOfTheRightDeploymentAreLeftAlone() {
    let a = assignment(0)
    #expect(plan([a], [container(a, id: "c0")]).isEmpty)
  }

  @Test func missingSlotsAreCreated() {
    let a = assignment(0)
    let b = assignment(1)
    #expect(plan([a, b], [container(a, id: "c0")]) == [.create(b)])
  }

  @Test func stoppedContainersAreStartedNotReplaced() {
    let a = assignment(0)
    #expect(plan([a], [container(a, id: "c0", state: .exited)]) == [.start(containerID: "c0", a)])
    #expect(plan([a], [container(a, id: "c0", state: .dead)]) == [.replace(containerID: "c0", a)])
  }

  @Test func aNewDeploymentReplacesTheContainer() {
    let old = assignment(0, deployment: "d1")
    let new = assignment(0, deployment: "d2", image: "web:2")
    #expect(plan([new], [container(old, id: "c0")]) == [.replace(containerID: "c0", new)])
  }

  @Test func managedContainersNoSlotWantsAreRemoved() {
    let a = assignment(0)
    let b = assignment(1)
    #expect(
      plan([a], [container(a, id: "c0"), container(b, id: "c1")]) == [
        .remove(containerID: "c1", name: b.containerName)
      ])
    #expect(
      plan([], [container(a, id: "c0")]) == [.remove(containerID: "c0", name: a.containerName)])
  }

  @Test func unlabelledContainersAreNeverTouched() {
    let stranger = ContainerInfo(
      id: "x", name: "postgres", image: "postgres:16", labels: ["owner": "me"], state: .running)
    #expect(plan([], [stranger]).isEmpty)
    let a = assignment(0)
    #expect(plan([a], [stranger]) == [.create(a)])
  }

  @Test func unsafeRequestsAreRefusedUnlessTheNodeAllows() {
    let a = assignment(0, security: SecurityRequest(privileged: true, binds: ["/etc:/host-etc"]))
    guard case .refuse(_, let reason, nil) = plan([a], []).first else {
      Issue.record("expected a refusal")
      return
    }
    #expect(reason.contains("privileged mode is not allowed"))
    #expect(reason.contains("--allow-privileged"))
    #expect(reason.contains("host bind mounts"))
    let allowed = NodePermissions(privileged: true, hostMounts: true)
    #expect(plan([a], [], permissions: allowed) == [.create(a)])
  }

  @Test("network: host is refused before Docker unless the node allows it (issue 14.2)")
  func hostNetworkIsGated() {
    let a = assignment(0, network: .host)
    guard case .refuse(_, let reason, nil) = plan([a], []).first else {
      Issue.record("expected a refusal, got \(plan([a], []))")
      return
    }
    #expect(
      reason == "network: host is not allowed on this node (sched-agent --allow-host-network)")
    // A running container of that slot (started before the rule, or by hand) is removed too.
    guard case .refuse(_, _, "c0") = plan([a], [container(a, id: "c0")]).first else {
      Issue.record("expected the running container to go")
      return
    }
    #expect(plan([a], [], permissions: NodePermissions(hostNetwork: true)) == [.create(a)])
  }

  @Test func theContainerSpecCarriesLimitsLabelsAndTheBindAddress() {
    let a = assignment(3)
    let spec = Reconciler.containerSpec(for: a, node: node, publishAddress: "10.0.0.5")
    #expect(spec.name == "turnout-web-blue-3")
    #expect(spec.cpuMillis == 100)
    #expect(spec.memoryBytes == 32 << 20)
    #expect(spec.hostIP == "10.0.0.5")
    #expect(spec.hostPort == 20003)
    #expect(spec.restartUnlessStopped)
    #expect(
      spec.labels == [
        "turnout.managed": "true", "turnout.app": "web", "turnout.color": "blue",
        "turnout.slot": "3",
        "turnout.deployment": "d1", "turnout.node": "n1",
      ])
  }
}

@Suite("Health tracker")
struct HealthTrackerTests {
  @Test func thresholdsKeepOneBlipFromFlapping() {
    var tracker = HealthTracker(healthyThreshold: 2, unhealthyThreshold: 3)
    #expect(tracker.health == .starting)
    tracker.passed()
    #expect(tracker.health == .starting)
    tracker.passed()
    #expect(tracker.health == .healthy)
    tracker.failed("HTTP 503")
    tracker.failed("HTTP 503")
    #expect(tracker.health == .healthy)
    tracker.failed("HTTP 503")
    #expect(tracker.health == .unhealthy)
    #expect(tracker.lastError == "HTTP 503")
    tracker.passed()
    tracker.passed()
    #expect(tracker.health == .healthy)
  }

  @Test func anExitStartsOver() {
    var tracker = HealthTracker(healthyThreshold: 1, unhealthyThreshold: 1)
    tracker.passed()
    tracker.exited("container exited")
    #expect(tracker.health == .exited)
    tracker.failed("connection refused")
    #expect(tracker.health == .exited)
    tracker.running()
    #expect(tracker.health == .starting)
    tracker.passed()
    #expect(tracker.health == .healthy)
  }
}
