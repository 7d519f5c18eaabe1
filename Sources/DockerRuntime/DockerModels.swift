import AgentCore
import Foundation

// The Docker Engine API's JSON, as far as Turnout reads and writes it. Field names are the
// engine's own (PascalCase), so these types stay private to this module.

struct VersionResponse: Decodable {
  var ApiVersion: String
  var MinAPIVersion: String?
  var Version: String?
}

struct CreateRequest: Encodable {
  struct PortBinding: Encodable {
    var HostIp: String
    var HostPort: String
  }
  struct RestartPolicyPart: Encodable {
    var Name: String
  }
  struct Device: Encodable {
    var PathOnHost: String
    var PathInContainer: String
    var CgroupPermissions: String
  }
  struct HostConfigPart: Encodable {
    var PortBindings: [String: [PortBinding]]
    var RestartPolicy: RestartPolicyPart
    var NanoCpus: Int64
    var Memory: Int64
    var NetworkMode: String
    var Privileged: Bool
    var Binds: [String]
    var CapAdd: [String]
    var PidMode: String
    var IpcMode: String
    var Devices: [Device]
    var LogConfig: LogConfigPart?
  }
  struct LogConfigPart: Encodable {
    var `Type`: String
    var Config: [String: String]
  }
  struct Empty: Encodable {}

  var Image: String
  var Env: [String]
  var Labels: [String: String]
  var ExposedPorts: [String: Empty]
  var Cmd: [String]?
  var HostConfig: HostConfigPart
  var NetworkingConfig: NetworkingPart?

  struct EndpointPart: Encodable {
    var Aliases: [String]
  }
  struct NetworkingPart: Encodable {
    var EndpointsConfig: [String: EndpointPart]
  }

  init(_ spec: ContainerSpec) {
    let port = "\(spec.containerPort)/tcp"
    var environment = spec.environment
    if spec.networkMode == .host {
      // Sharing the host's network: the app listens where the slot was placed.
      environment["PORT"] = String(spec.hostPort)
      environment["HOST"] = spec.hostIP
    }
    let published = spec.network == nil && spec.networkMode == .bridge
    Image = spec.image
    Env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    Labels = spec.labels
    ExposedPorts = published ? [port: Empty()] : [:]
    Cmd = spec.command
    HostConfig = .init(
      PortBindings: published
        ? [port: [PortBinding(HostIp: spec.hostIP, HostPort: String(spec.hostPort))]] : [:],
      RestartPolicy: .init(Name: spec.restartUnlessStopped ? "unless-stopped" : "no"),
      NanoCpus: spec.cpuMillis * 1_000_000, Memory: spec.memoryBytes,
      NetworkMode: spec.network ?? spec.networkMode.rawValue, Privileged: spec.security.privileged,
      Binds: spec.security.binds
        + spec.secretFiles.sorted { $0.key < $1.key }.map {
          "\($0.value):/run/secrets/\($0.key):ro"
        },
      CapAdd: spec.security.capAdd, PidMode: spec.security.hostPID ? "host" : "",
      IpcMode: spec.security.hostIPC ? "host" : "",
      Devices: spec.security.devices.map {
        Device(PathOnHost: $0, PathInContainer: $0, CgroupPermissions: "rwm")
      },
      LogConfig: spec.log.map { LogConfigPart(Type: $0.driver, Config: $0.options) })
    NetworkingConfig = spec.network.map {
      NetworkingPart(EndpointsConfig: [$0: EndpointPart(Aliases: spec.aliases)])
    }
  }
}

struct CreateResponse: Decodable {
  var Id: String
}

struct ErrorResponse: Decodable {
  var message: String
}

struct ListedContainer: Decodable {
  var Id: String
  var Names: [String]?
  var Image: String
  var ImageID: String?
  var Labels: [String: String]?
  var State: String
}

struct InspectResponse: Decodable {
  struct ConfigPart: Decodable {
    var Image: String
    var Labels: [String: String]?
  }
  struct StatePart: Decodable {
    var Status: String
    var StartedAt: String?
    var ExitCode: Int?
  }
  struct Binding: Decodable {
    var HostIp: String?
    var HostPort: String?
  }
  struct HostConfigPart: Decodable {
    var NanoCpus: Int64?
    var Memory: Int64?
    var RestartPolicy: RestartPolicyName?
    var PortBindings: [String: [Binding]?]?
  }
  struct RestartPolicyName: Decodable {
    var Name: String?
  }

  var Id: String
  var Name: String
  /// The image's id (the reference is `Config.Image`).
  var Image: String?
  var Config: ConfigPart
  var State: StatePart
  var HostConfig: HostConfigPart

  var info: ContainerInfo {
    let state = ContainerInfo.State(rawValue: self.State.Status) ?? .dead
    let started = self.State.StartedAt.flatMap(DockerTime.parse)
    let ports = (self.HostConfig.PortBindings ?? [:]).values.compactMap { $0 }.flatMap { $0 }
      .map { "\($0.HostIp ?? ""):\($0.HostPort ?? "")" }.sorted()
    return ContainerInfo(
      id: Id, name: Name.hasPrefix("/") ? String(Name.dropFirst()) : Name, image: self.Config.Image,
      labels: self.Config.Labels ?? [:], state: state,
      startedAt: state == .created ? nil : started,
      exitCode: state == .running ? nil : self.State.ExitCode,
      cpuMillis: (self.HostConfig.NanoCpus ?? 0) / 1_000_000,
      memoryBytes: self.HostConfig.Memory ?? 0,
      publishedPorts: ports, restartPolicy: self.HostConfig.RestartPolicy?.Name ?? "",
      imageID: Image)
  }
}

struct StatsResponse: Decodable {
  struct CPUUsage: Decodable {
    var total_usage: UInt64
  }
  struct CPUStats: Decodable {
    var cpu_usage: CPUUsage
    var system_cpu_usage: UInt64?
    var online_cpus: Int?
  }
  struct MemoryStats: Decodable {
    var usage: Int64?
    var stats: [String: Int64]?
  }

  var cpu_stats: CPUStats
  var precpu_stats: CPUStats
  var memory_stats: MemoryStats

  var stats: ContainerStats {
    let cpuDelta =
      Double(cpu_stats.cpu_usage.total_usage) - Double(precpu_stats.cpu_usage.total_usage)
    let systemDelta =
      Double(cpu_stats.system_cpu_usage ?? 0) - Double(precpu_stats.system_cpu_usage ?? 0)
    let cpus = Double(cpu_stats.online_cpus ?? 1)
    let millis = systemDelta > 0 && cpuDelta > 0 ? cpuDelta / systemDelta * cpus * 1000 : 0
    // Like `docker stats`: page cache the kernel can drop does not count as used.
    let cache =
      memory_stats.stats?["inactive_file"] ?? memory_stats.stats?["total_inactive_file"] ?? 0
    return ContainerStats(
      cpuMillis: Int64(millis.rounded()), memoryBytes: max(0, (memory_stats.usage ?? 0) - cache))
  }
}

/// Docker's timestamps: RFC 3339 with nanoseconds, e.g. `2026-11-27T03:56:29.731630271Z`.
enum DockerTime {
  static func parse(_ text: String) -> Date? {
    guard !text.hasPrefix("0001-") else { return nil }
    // Keep milliseconds: ISO8601DateFormatter reads at most that many fractional digits.
    var trimmed = text
    if let dot = text.firstIndex(of: "."),
      let end = text.lastIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }), end > dot
    {
      let fraction = text[text.index(after: dot)..<end].prefix(3)
      trimmed = String(text[..<dot]) + "." + fraction + String(text[end...])
    }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: trimmed) { return date }
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)
  }
}

/// An engine API version such as `1.41`, ordered numerically.
struct APIVersion: Comparable, CustomStringConvertible {
  var major: Int
  var minor: Int

  init?(_ text: String) {
    let parts = text.split(separator: ".")
    guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
    self.major = major
    self.minor = minor
  }

  init(major: Int, minor: Int) {
    self.major = major
    self.minor = minor
  }

  static func < (lhs: APIVersion, rhs: APIVersion) -> Bool {
    (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
  }

  var description: String { "\(major).\(minor)" }
}

struct ImageInspect: Decodable {
  var Id: String
}

struct NetworkCreateRequest: Encodable {
  var Name: String
  var Driver = "bridge"
  /// No route out: a test's companions are for the test alone.
  var Internal = true
  var Labels: [String: String]
}

struct NetworkCreateResponse: Decodable {
  var Id: String
}

struct ListedNetwork: Decodable {
  var Id: String
}

/// The engine's log stream for a container without a TTY: frames of an 8-byte header (stream,
/// three zero bytes, big-endian length) and that many bytes.
enum LogFrames {
  static func text(_ data: Data) -> String {
    var out = Data()
    var index = data.startIndex
    while data.endIndex - index >= 8 {
      let header = data[index..<(index + 8)]
      let bytes = Array(header)
      let length = Int(bytes[4]) << 24 | Int(bytes[5]) << 16 | Int(bytes[6]) << 8 | Int(bytes[7])
      let start = index + 8
      let end = min(data.endIndex, start + length)
      out.append(data[start..<end])
      index = end
    }
    return String(decoding: out, as: UTF8.self)
  }
}
