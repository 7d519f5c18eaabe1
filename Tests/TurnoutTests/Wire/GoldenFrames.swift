import Foundation
import SchedModel
import SchedWire

/// One example of every message, as values. `ProtocolGoldenTests` holds their exact lines, and
/// docs/PROTOCOL.md shows the same lines.
enum GoldenFrames {
  static let slot = SlotID(app: "web", color: .green, index: 2)

  static let assignment = SlotAssignment(
    slot: slot, deployment: "d7", image: "turnout-sample:2",
    resources: Resources(cpuMillis: 250, memoryBytes: 134_217_728), hostPort: 20004,
    containerPort: 8080, env: ["MODE": "prod"],
    health: HealthCheck(path: "/healthz", intervalMillis: 1000, timeoutMillis: 500))

  static let all: [(MessageType, Frame)] = [
    (
      .hello,
      Frame(
        id: "1",
        .hello(Hello(role: .agent, versions: [1], node: "web-1", token: "s3cret")))
    ),
    (
      .welcome,
      Frame(id: "1", .welcome(Welcome(version: 1, heartbeatMillis: 2000, ttlMillis: 6000)))
    ),
    (
      .register,
      Frame(
        id: "2",
        .register(
          Register(
            node: NodeSpec(
              id: "web-1", name: "web-1", address: "10.0.0.5",
              capacity: Resources(cpuMillis: 4000, memoryBytes: 8_589_934_592),
              ports: try! PortRange(low: 20000, high: 20999), labels: ["zone": "home"]))))
    ),
    (.registered, Frame(id: "2", .registered(Registered(generation: 3)))),
    (
      .heartbeat,
      Frame(
        id: "hb17",
        .heartbeat(
          Heartbeat(
            usage: HostUsage(
              cpuUsedMillis: 730, memoryUsedBytes: 2_147_483_648,
              memoryAvailableBytes: 6_442_450_944),
            slots: [
              SlotStatus(
                slot: slot, deployment: "d7", containerID: "4f2a9c01b3e8", health: .healthy,
                startedAt: Date(timeIntervalSince1970: 1_795_750_000))
            ])))
    ),
    (
      .error,
      Frame(
        id: "7",
        .error(
          ErrorReply(
            code: .badField, message: "heartbeat: field 'usage.cpu_used_millis' must be an integer")
        ))
    ),
    (
      .command,
      Frame(
        id: "c41-3",
        .command(Command(generation: 3, action: .assign(AssignSlots(slots: [assignment])))))
    ),
    (.commandAck, Frame(id: "c41-3", .commandAck(CommandAck(ok: true, message: "started")))),
  ]
}
