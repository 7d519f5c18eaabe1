import AgentCore
import OperatorAPI
import SchedModel
import SchedWire
import Synchronization

/// A host probe that reports what it is told.
public final class FixedProbe: HostProbe {
  private let state: Mutex<(Resources, HostUsage)>

  public init(
    capacity: Resources = Resources(cpuMillis: 4000, memoryBytes: 8 << 30),
    usage: HostUsage = HostUsage(
      cpuUsedMillis: 100, memoryUsedBytes: 1 << 30, memoryAvailableBytes: 7 << 30)
  ) {
    state = Mutex((capacity, usage))
  }

  public func capacity() async throws -> Resources { state.withLock { $0.0 } }
  public func usage() async throws -> HostUsage { state.withLock { $0.1 } }

  public func set(usage: HostUsage) { state.withLock { $0.1 = usage } }
}

/// A command executor that records what it was asked and answers ok.
public final class RecordingExecutor: CommandExecutor {
  private let log = Mutex<[CommandAction]>([])

  public init() {}

  public func execute(_ action: CommandAction) async -> CommandAck {
    log.withLock { $0.append(action) }
    return CommandAck(ok: true, message: "done")
  }

  public var executed: [CommandAction] { log.withLock { $0 } }
}

extension RecordingExecutor {
  public func slotStatuses() async -> [SlotStatus] { [] }
  public func takeDrift() async -> [DriftReport] { [] }
}

/// A health prober whose answers the test sets: healthy unless told otherwise.
public final class ScriptedProber: HealthProber {
  private let failing = Mutex<[Int: String]>([:])

  public init() {}

  /// Makes checks of `port` fail with `reason`, or pass again with nil.
  public func set(port: Int, failure reason: String?) { failing.withLock { $0[port] = reason } }

  public func probe(host: String, port: Int, path: String, timeout: Duration) async -> String? {
    failing.withLock { $0[port] }
  }
}
