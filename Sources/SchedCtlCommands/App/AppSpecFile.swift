import SchedModel
import Yams

/// Reads an app spec from YAML, with errors that name the file, the line and the field.
///
/// ```yaml
/// name: web
/// image: turnout-sample:1
/// slots: 4
/// cpu: 250m
/// memory: 64Mi
/// port: 8080
/// health: { path: /healthz, interval: 1s, timeout: 500ms }
/// ```
enum AppSpecFile {
  struct Problem: Error, CustomStringConvertible {
    let description: String
  }

  static let fields = [
    "name", "image", "slots", "cpu", "memory", "port", "env", "health", "network", "constraints",
    "max_per_node", "security", "hosts", "keep_warm", "drain_timeout",
  ]
  static let healthFields = [
    "path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold",
  ]
  static let securityFields = ["privileged", "binds", "cap_add", "host_pid", "host_ipc", "devices"]

  static func parse(_ text: String, file: String) throws(Problem) -> AppSpec {
    let root: Yams.Node
    do {
      guard let node = try Yams.compose(yaml: text) else {
        throw Problem(
          description: "\(file): the file is empty; see `schedctl app apply --help` for an example")
      }
      root = node
    } catch let problem as Problem {
      throw problem
    } catch {
      throw Problem(description: "\(file): not valid YAML: \(error)")
    }
    let reader = Reader(file: file)
    return try reader.spec(root)
  }

  struct Reader {
    let file: String

    func fail(_ node: Yams.Node?, _ field: String, _ message: String) -> Problem {
      let line = node?.mark.map { "\($0.line)" } ?? "?"
      return Problem(description: "\(file):\(line): \(field): \(message)")
    }

    func mapping(_ node: Yams.Node, _ field: String, known: [String]) throws(Problem) -> [String:
      Yams.Node]
    {
      guard let mapping = node.mapping else {
        throw fail(node, field, "must be a mapping of key: value lines")
      }
      var out: [String: Yams.Node] = [:]
      for (key, value) in mapping {
        guard let name = key.string else { throw fail(key, field, "keys must be plain words") }
        guard known.isEmpty || known.contains(name) else {
          throw fail(
            key, field.isEmpty ? name : "\(field).\(name)",
            "unknown field; known fields: \(known.joined(separator: ", "))")
        }
        out[name] = value
      }
      return out
    }

    func string(_ node: Yams.Node?, _ field: String) throws(Problem) -> String {
      guard let node, let text = node.string, node.scalar != nil else {
        throw fail(node, field, "must be a text value")
      }
      return text
    }

    func int(_ node: Yams.Node?, _ field: String) throws(Problem) -> Int {
      guard let value = Int(try string(node, field)) else {
        throw fail(node, field, "must be a whole number")
      }
      return value
    }

    func bool(_ node: Yams.Node?, _ field: String) throws(Problem) -> Bool {
      switch try string(node, field).lowercased() {
      case "true", "yes", "on": return true
      case "false", "no", "off": return false
      default: throw fail(node, field, "must be true or false")
      }
    }

    func strings(_ node: Yams.Node?, _ field: String) throws(Problem) -> [String] {
      guard let node else { return [] }
      guard let sequence = node.sequence else { throw fail(node, field, "must be a list") }
      var out: [String] = []
      for item in sequence { out.append(try string(item, field)) }
      return out
    }

    func dictionary(_ node: Yams.Node?, _ field: String) throws(Problem) -> [String: String] {
      guard let node else { return [:] }
      var out: [String: String] = [:]
      for (key, value) in try mapping(node, field, known: []) {
        out[key] = try string(value, "\(field).\(key)")
      }
      return out
    }

    func duration(_ node: Yams.Node?, _ field: String) throws(Problem) -> Int64? {
      guard let node else { return nil }
      let text = try string(node, field)
      do { return try Parsing.duration(text).milliseconds } catch {
        throw fail(node, field, error.message)
      }
    }

    func spec(_ root: Yams.Node) throws(Problem) -> AppSpec {
      let top = try mapping(root, "", known: AppSpecFile.fields)
      for required in ["name", "image", "slots", "cpu", "memory"] where top[required] == nil {
        throw fail(root, required, "missing; an app needs name, image, slots, cpu and memory")
      }
      let cpuText = try string(top["cpu"], "cpu")
      let memoryText = try string(top["memory"], "memory")
      let cpu: Int64
      let memory: Int64
      do throws(ModelError) { cpu = try Quantity.parseCPU(cpuText) } catch {
        throw fail(top["cpu"], "cpu", error.message)
      }
      do throws(ModelError) { memory = try Quantity.parseMemory(memoryText) } catch {
        throw fail(top["memory"], "memory", error.message)
      }

      var health = HealthCheck()
      if let node = top["health"] {
        let fields = try mapping(node, "health", known: AppSpecFile.healthFields)
        if let path = fields["path"] { health.path = try string(path, "health.path") }
        if let interval = try duration(fields["interval"], "health.interval") {
          health.intervalMillis = interval
        }
        if let timeout = try duration(fields["timeout"], "health.timeout") {
          health.timeoutMillis = timeout
        }
        if let node = fields["healthy_threshold"] {
          health.healthyThreshold = try int(node, "health.healthy_threshold")
        }
        if let node = fields["unhealthy_threshold"] {
          health.unhealthyThreshold = try int(node, "health.unhealthy_threshold")
        }
      }
      var security = SecurityRequest()
      if let node = top["security"] {
        let fields = try mapping(node, "security", known: AppSpecFile.securityFields)
        if let node = fields["privileged"] {
          security.privileged = try bool(node, "security.privileged")
        }
        security.binds = try strings(fields["binds"], "security.binds")
        security.capAdd = try strings(fields["cap_add"], "security.cap_add")
        if let node = fields["host_pid"] { security.hostPID = try bool(node, "security.host_pid") }
        if let node = fields["host_ipc"] { security.hostIPC = try bool(node, "security.host_ipc") }
        security.devices = try strings(fields["devices"], "security.devices")
      }
      var network = NetworkMode.bridge
      if let node = top["network"] {
        guard let mode = NetworkMode(rawValue: try string(node, "network")) else {
          throw fail(node, "network", "must be bridge or host")
        }
        network = mode
      }
      let spec = AppSpec(
        name: try string(top["name"], "name"), image: try string(top["image"], "image"),
        slots: try int(top["slots"], "slots"),
        resources: Resources(cpuMillis: cpu, memoryBytes: memory),
        containerPort: try top["port"].map { node throws(Problem) in try int(node, "port") }
          ?? 8080,
        env: try dictionary(top["env"], "env"), health: health, network: network,
        constraints: try dictionary(top["constraints"], "constraints"),
        maxPerNode: try top["max_per_node"].map { node throws(Problem) in
          try int(node, "max_per_node")
        },
        security: security, hosts: try strings(top["hosts"], "hosts"),
        keepWarmMillis: try duration(top["keep_warm"], "keep_warm"),
        drainTimeoutMillis: try duration(top["drain_timeout"], "drain_timeout") ?? 30_000)
      do throws(ModelError) {
        try spec.validate()
      } catch {
        // Point at the line of the field the rule is about.
        let field = String(error.message.prefix { $0 != ":" })
        let key = field.split(separator: ".").first.map(String.init) ?? field
        throw fail(
          top[key == "container_port" ? "port" : key] ?? root, field,
          String(error.message.dropFirst(field.count + 2)))
      }
      return spec
    }
  }
}
