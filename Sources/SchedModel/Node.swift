import Foundation

/// Whether a node takes new work.
public enum NodeState: String, Sendable, Codable, CaseIterable {
  /// Registered and heartbeating within its TTL.
  case ready
  /// Missed too many heartbeats; keeps its row and allocations until it reports again.
  case down
}

/// What an agent says about its host when it registers.
public struct NodeSpec: Hashable, Sendable, Codable {
  public var id: NodeID
  public var name: String
  /// The address other hosts (routers) use to reach slots on this node.
  public var address: String
  public var capacity: Resources
  public var ports: PortRange
  public var labels: [String: String]

  public init(
    id: NodeID, name: String, address: String, capacity: Resources, ports: PortRange,
    labels: [String: String] = [:]
  ) {
    self.id = id
    self.name = name
    self.address = address
    self.capacity = capacity
    self.ports = ports
    self.labels = labels
  }

  enum CodingKeys: String, CodingKey { case id, name, address, capacity, ports, labels }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let rawID = try container.decode(String.self, forKey: .id)
    do {
      self.id = try NodeID.validate(rawID)
    } catch {
      throw DecodingError.dataCorruptedError(
        forKey: .id, in: container, debugDescription: error.message)
    }
    self.name = try container.decode(String.self, forKey: .name)
    self.address = try container.decode(String.self, forKey: .address)
    self.capacity = try container.decode(Resources.self, forKey: .capacity)
    guard capacity.cpuMillis >= 0, capacity.memoryBytes >= 0 else {
      throw DecodingError.dataCorruptedError(
        forKey: .capacity, in: container,
        debugDescription:
          "capacity must not be negative (cpu_millis \(capacity.cpuMillis), memory_bytes \(capacity.memoryBytes))"
      )
    }
    self.ports = try container.decode(PortRange.self, forKey: .ports)
    self.labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
  }
}

/// Host usage measured by the agent, sent with every heartbeat.
public struct HostUsage: Hashable, Sendable, Codable {
  public var cpuUsedMillis: Int64
  public var memoryUsedBytes: Int64
  public var memoryAvailableBytes: Int64

  public init(cpuUsedMillis: Int64, memoryUsedBytes: Int64, memoryAvailableBytes: Int64) {
    self.cpuUsedMillis = cpuUsedMillis
    self.memoryUsedBytes = memoryUsedBytes
    self.memoryAvailableBytes = memoryAvailableBytes
  }

  enum CodingKeys: String, CodingKey {
    case cpuUsedMillis = "cpu_used_millis"
    case memoryUsedBytes = "memory_used_bytes"
    case memoryAvailableBytes = "memory_available_bytes"
  }
}

/// A node as the scheduler knows it: what it registered, its state, and its last report.
public struct Node: Hashable, Sendable {
  public var spec: NodeSpec
  public var state: NodeState
  /// Goes up by one on every registration; commands carry it so a node can drop stale ones.
  public var generation: Int64
  public var registeredAt: Date
  public var lastHeartbeatAt: Date?
  public var usage: HostUsage?

  public init(
    spec: NodeSpec, state: NodeState, generation: Int64, registeredAt: Date,
    lastHeartbeatAt: Date? = nil, usage: HostUsage? = nil
  ) {
    self.spec = spec
    self.state = state
    self.generation = generation
    self.registeredAt = registeredAt
    self.lastHeartbeatAt = lastHeartbeatAt
    self.usage = usage
  }

  public var id: NodeID { spec.id }
}
