import Foundation
import SchedModel
import Synchronization

/// Test fixtures, after Nomad's `mock.Node()`: a valid value with every field set.
public enum Fixtures {
  public static func nodeSpec(
    _ id: String = "n1", cpu: Int64 = 4000, memory: Int64 = 8 << 30,
    ports: (Int, Int) = (20000, 20099),
    labels: [String: String] = [:]
  ) -> NodeSpec {
    NodeSpec(
      id: NodeID(id), name: id, address: "127.0.0.1",
      capacity: Resources(cpuMillis: cpu, memoryBytes: memory),
      ports: try! PortRange(low: ports.0, high: ports.1), labels: labels)
  }

  /// A small app: `slots` of `image` at 100m CPU and 32 MiB each.
  public static func app(
    _ name: String, image: String = "web:1", slots: Int = 1, hosts: [String] = []
  ) -> AppSpec {
    AppSpec(
      name: name, image: image, slots: slots,
      resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20), hosts: hosts)
  }

  /// `slots` of web:1 at 100m CPU and 32 MiB, health checked every 100 ms: an app that comes
  /// up at once on a fake runtime.
  public static func quickApp(_ name: String = "web", slots: Int = 2) -> AppSpec {
    AppSpec(
      name: name, image: "web:1", slots: slots,
      resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20),
      health: HealthCheck(intervalMillis: 100, timeoutMillis: 100))
  }

  public static func node(
    _ id: String = "n1", state: NodeState = .ready, generation: Int64 = 1,
    at: Date = Date(timeIntervalSince1970: 1_800_000_000)
  ) -> Node {
    Node(
      spec: nodeSpec(id), state: state, generation: generation, registeredAt: at,
      lastHeartbeatAt: at,
      usage: HostUsage(cpuUsedMillis: 250, memoryUsedBytes: 1 << 30, memoryAvailableBytes: 7 << 30))
  }

  public static func event(
    _ kind: String, subject: String = "n1", at: Date = Date(timeIntervalSince1970: 1_800_000_000)
  ) -> ClusterEvent {
    ClusterEvent(at: at, actor: "test", kind: kind, subject: subject, detail: "detail of \(kind)")
  }
}

/// A clock tests move by hand.
public final class ManualClock: Sendable {
  private let current: Mutex<Date>

  public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
    current = .init(start)
  }

  public func now() -> Date { current.withLock { $0 } }
  public func advance(by seconds: Double) { current.withLock { $0 += seconds } }
}
