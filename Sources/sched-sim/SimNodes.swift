import AgentCore
import AgentDaemon
import Logging
import SchedModel
import SchedWire
import Synchronization
import WireTransport

/// A simulated host: the capacity it is told, a little usage.
struct SimProbe: HostProbe {
  let size: Resources

  func capacity() async throws -> Resources { size }
  func usage() async throws -> HostUsage {
    HostUsage(
      cpuUsedMillis: size.cpuMillis / 20, memoryUsedBytes: size.memoryBytes / 20,
      memoryAvailableBytes: size.memoryBytes - size.memoryBytes / 20)
  }
}

/// What every simulated node's runtime was asked, shared by all of them: the sim's measure of
/// deploys acked end to end.
final class SimLedger: Sendable {
  struct Counts {
    var assigns = 0
    var slots: [String: Int] = [:]
    var firstSeen: [String: ContinuousClock.Instant] = [:]
    var completed: [String: ContinuousClock.Instant] = [:]
    var expected: [String: Int] = [:]
  }

  private let state = Mutex(Counts())

  /// A deployment is complete once `slots` of its slots were acked by their nodes.
  func expect(_ deployment: String, slots: Int) {
    let now = ContinuousClock.now
    state.withLock { counts in
      counts.expected[deployment] = slots
      // Its nodes may have acked before the API's answer reached us.
      if (counts.slots[deployment] ?? 0) >= slots, counts.completed[deployment] == nil {
        counts.completed[deployment] = now
      }
    }
  }

  /// A node acked an assignment holding these deployments' slots (each slot counted once:
  /// the node's first assignment that lists it).
  func acked(new: [SlotAssignment]) {
    let now = ContinuousClock.now
    state.withLock { counts in
      counts.assigns += 1
      for slot in new {
        counts.slots[slot.deployment, default: 0] += 1
        if counts.firstSeen[slot.deployment] == nil { counts.firstSeen[slot.deployment] = now }
        if let expected = counts.expected[slot.deployment],
          counts.slots[slot.deployment]! >= expected, counts.completed[slot.deployment] == nil
        {
          counts.completed[slot.deployment] = now
        }
      }
    }
  }

  func snapshot() -> Counts { state.withLock { $0 } }
}

/// A simulated node's runtime: assignments are acked at once and their slots reported healthy
/// from the next heartbeat on; nothing runs.
actor SimRuntime: CommandExecutor {
  let ledger: SimLedger
  private var slots: [SlotID: SlotAssignment] = [:]

  init(ledger: SimLedger) { self.ledger = ledger }

  func execute(_ action: CommandAction) async -> CommandAck {
    guard case .assign(let assign) = action else {
      return CommandAck(ok: false, message: "\(action.kind.rawValue): not simulated")
    }
    let new = assign.slots.filter { slots[$0.slot]?.deployment != $0.deployment }
    slots = Dictionary(assign.slots.map { ($0.slot, $0) }) { _, last in last }
    ledger.acked(new: new)
    return CommandAck(ok: true, message: "\(assign.slots.count) slots")
  }

  func slotStatuses() async -> [SlotStatus] {
    slots.values.map {
      SlotStatus(
        slot: $0.slot, deployment: $0.deployment, health: .healthy,
        imageID: "sha256:" + String(repeating: "0", count: 64))
    }
  }

  func takeDrift() async -> [DriftReport] { [] }
}

/// Starts agents `first` to `first + count - 1` of `total` (the real `Agent`, its session and
/// heartbeats) on simulated hosts named sim-0000 and so on; they wait between heartbeats on
/// one shared `pacer`.
func startSimulatedNodes(
  count: Int, first: Int, total: Int, host: String, port: Int, token: String, size: Resources,
  ledger: SimLedger, pacer: any Pacer
) -> [Task<Void, any Error>] {
  var logger = Logger(label: "sched-sim")
  logger.logLevel = .error
  let width = String(total - 1).count
  return (first..<(first + count)).map { number in
    let digits = String(number)
    let name = "sim-" + String(repeating: "0", count: width - digits.count) + digits
    let config = AgentConfig(
      schedulerHost: host, schedulerPort: port, joinToken: token, node: NodeID(name), name: name,
      advertiseAddress: "127.0.0.1", ports: try! PortRange(low: 20000, high: 20999),
      backoff: Backoff(base: .milliseconds(500), cap: .seconds(5)), reportPoll: .seconds(3600))
    let agent = Agent(
      config: config, probe: SimProbe(size: size), executor: SimRuntime(ledger: ledger),
      pacer: pacer, logger: logger)
    return Task { try await agent.run() }
  }
}
