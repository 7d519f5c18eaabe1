import Foundation
import SchedModel

/// Heartbeats written and read without `Codable`: every node sends one a second, and at 10,000
/// nodes `JSONDecoder` alone took a quarter of the scheduler's CPU. The bytes are the ones
/// `JSONEncoder` would write (head first, then the body's keys sorted); a line this reader does
/// not expect (an escape in a string, a field it does not know, drift or pull reports) returns
/// nil and goes through `JSONDecoder`, so every valid line is still read and every invalid one
/// still gets its precise error.
enum HotFrames {
  // MARK: writing

  /// A heartbeat line without drift or pulls; nil for one that has them, or a time JSON cannot
  /// hold.
  static func encode(_ beat: Heartbeat, version: Int, id: String?) -> String? {
    guard beat.drift.isEmpty, beat.pulls.isEmpty else { return nil }
    var line = JSONLine(capacity: 160 + beat.slots.count * 200)
    line.raw("{\"v\":\(version),\"type\":\"heartbeat\"")
    if let id {
      line.raw(",\"id\":")
      line.string(id)
    }
    line.raw(",\"slots\":[")
    for (index, status) in beat.slots.enumerated() {
      if index > 0 { line.raw(",") }
      guard write(status, to: &line) else { return nil }
    }
    line.raw("],\"usage\":{\"cpu_used_millis\":")
    line.int(beat.usage.cpuUsedMillis)
    line.raw(",\"memory_available_bytes\":")
    line.int(beat.usage.memoryAvailableBytes)
    line.raw(",\"memory_used_bytes\":")
    line.int(beat.usage.memoryUsedBytes)
    line.raw("}}")
    return line.text
  }

  /// A slot's status, its keys sorted as `JSONEncoder` sorts them.
  private static func write(_ status: SlotStatus, to line: inout JSONLine) -> Bool {
    line.raw("{")
    if let container = status.containerID {
      line.raw("\"container_id\":")
      line.string(container)
      line.raw(",")
    }
    if let cpu = status.cpuUsedMillis {
      line.raw("\"cpu_used_millis\":")
      line.int(cpu)
      line.raw(",")
    }
    line.raw("\"deployment\":")
    line.string(status.deployment)
    line.raw(",\"health\":")
    line.string(status.health.rawValue)
    if let image = status.imageID {
      line.raw(",\"image_id\":")
      line.string(image)
    }
    if let memory = status.memoryUsedBytes {
      line.raw(",\"memory_used_bytes\":")
      line.int(memory)
    }
    if let message = status.message {
      line.raw(",\"message\":")
      line.string(message)
    }
    line.raw(",\"slot\":{\"app\":")
    line.string(status.slot.app)
    line.raw(",\"color\":")
    line.string(status.slot.color.rawValue)
    line.raw(",\"index\":")
    line.int(Int64(status.slot.index))
    line.raw("}")
    if let started = status.startedAt {
      line.raw(",\"started_at\":")
      guard line.double(started.timeIntervalSince1970) else { return false }
    }
    line.raw("}")
    return true
  }

  // MARK: reading

  /// The frame if `line` is a heartbeat of a supported version in the plain form; nil leaves
  /// it to `JSONDecoder`.
  static func decodeHeartbeat(_ line: UnsafeRawBufferPointer) -> Frame? {
    var scanner = JSONScanner(line)
    guard scanner.take(UInt8(ascii: "{")) else { return nil }
    var version: Int64?
    var type: String?
    var id: String?
    var usage: HostUsage?
    var slots: [SlotStatus] = []
    if !scanner.take(UInt8(ascii: "}")) {
      repeat {
        guard let key = scanner.key() else { return nil }
        if key == "v" {
          guard let value = scanner.int64() else { return nil }
          version = value
        } else if key == "type" {
          guard let value = scanner.string(), value == "heartbeat" else { return nil }
          type = value
        } else if key == "id" {
          if !scanner.takeNull() {
            guard let value = scanner.string() else { return nil }
            id = value
          }
        } else if key == "usage" {
          guard let value = hostUsage(&scanner) else { return nil }
          usage = value
        } else if key == "slots" {
          guard let value = JSONScanner.array(&scanner, status) else { return nil }
          slots = value
        } else {
          return nil
        }
      } while scanner.take(UInt8(ascii: ","))
      guard scanner.take(UInt8(ascii: "}")) else { return nil }
    }
    guard scanner.atEnd, let version, type != nil, let usage,
      let v = Int(exactly: version), ProtocolVersion.supported.contains(v)
    else { return nil }
    return Frame(version: v, id: id, .heartbeat(Heartbeat(usage: usage, slots: slots)))
  }

  private static func hostUsage(_ scanner: inout JSONScanner) -> HostUsage? {
    guard scanner.take(UInt8(ascii: "{")) else { return nil }
    var cpu: Int64?
    var used: Int64?
    var available: Int64?
    if !scanner.take(UInt8(ascii: "}")) {
      repeat {
        guard let key = scanner.key(), let value = scanner.int64() else { return nil }
        if key == "cpu_used_millis" {
          cpu = value
        } else if key == "memory_used_bytes" {
          used = value
        } else if key == "memory_available_bytes" {
          available = value
        } else {
          return nil
        }
      } while scanner.take(UInt8(ascii: ","))
      guard scanner.take(UInt8(ascii: "}")) else { return nil }
    }
    guard let cpu, let used, let available else { return nil }
    return HostUsage(cpuUsedMillis: cpu, memoryUsedBytes: used, memoryAvailableBytes: available)
  }

  private static func status(_ scanner: inout JSONScanner) -> SlotStatus? {
    guard scanner.take(UInt8(ascii: "{")) else { return nil }
    var slot: SlotID?
    var deployment: String?
    var health: SlotHealth?
    var status = SlotStatus(
      slot: SlotID(app: "", color: .blue, index: 0), deployment: "", health: .starting)
    repeat {
      guard let key = scanner.key() else { return nil }
      if key == "slot" {
        guard let value = slotID(&scanner) else { return nil }
        slot = value
      } else if key == "deployment" {
        guard let value = scanner.string() else { return nil }
        deployment = value
      } else if key == "health" {
        guard let value = scanner.string().flatMap(SlotHealth.init(rawValue:)) else { return nil }
        health = value
      } else if scanner.takeNull() {
        // An optional field given as null: as if left out (what `decodeIfPresent` does).
        guard
          key == "container_id" || key == "started_at" || key == "message"
            || key == "image_id" || key == "cpu_used_millis" || key == "memory_used_bytes"
        else { return nil }
      } else if key == "container_id" {
        guard let value = scanner.string() else { return nil }
        status.containerID = value
      } else if key == "started_at" {
        guard let value = scanner.double() else { return nil }
        status.startedAt = Date(timeIntervalSince1970: value)
      } else if key == "message" {
        guard let value = scanner.string() else { return nil }
        status.message = value
      } else if key == "image_id" {
        guard let value = scanner.string() else { return nil }
        status.imageID = value
      } else if key == "cpu_used_millis" {
        guard let value = scanner.int64() else { return nil }
        status.cpuUsedMillis = value
      } else if key == "memory_used_bytes" {
        guard let value = scanner.int64() else { return nil }
        status.memoryUsedBytes = value
      } else {
        return nil
      }
    } while scanner.take(UInt8(ascii: ","))
    guard scanner.take(UInt8(ascii: "}")), let slot, let deployment, let health else { return nil }
    status.slot = slot
    status.deployment = deployment
    status.health = health
    return status
  }

  static func slotID(_ scanner: inout JSONScanner) -> SlotID? {
    guard scanner.take(UInt8(ascii: "{")) else { return nil }
    var app: String?
    var color: Color?
    var index: Int?
    repeat {
      guard let key = scanner.key() else { return nil }
      if key == "app" {
        guard let value = scanner.string() else { return nil }
        app = value
      } else if key == "color" {
        guard let value = scanner.string().flatMap(Color.init(rawValue:)) else { return nil }
        color = value
      } else if key == "index" {
        guard let value = scanner.int64().flatMap({ Int(exactly: $0) }) else { return nil }
        index = value
      } else {
        return nil
      }
    } while scanner.take(UInt8(ascii: ","))
    guard scanner.take(UInt8(ascii: "}")), let app, let color, let index else { return nil }
    return SlotID(app: app, color: color, index: index)
  }
}
