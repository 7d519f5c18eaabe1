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

  /// Model field names that differ in the file.
  static let fileNames = ["container_port": "port"]

  static let fields = [
    "name", "image", "slots", "cpu", "memory", "port", "env", "health", "network", "constraints",
    "max_per_node", "security", "hosts", "keep_warm", "drain_timeout", "tests", "checks", "log",
    "build", "secrets", "secret_files", "https",
  ]
  static let httpsFields = ["redirect", "hsts", "acme"]
  static let buildFields = [
    "timeout", "cpu", "memory", "dockerfile", "git", "on_push", "switch_after_verify",
  ]
  static let logFields = ["driver", "options"]
  static let testFields = ["name", "command", "env", "timeout", "companions"]
  static let companionFields = ["name", "image", "env", "command"]
  static let checkFields = ["name", "http", "tcp", "timeout"]
  static let httpCheckFields = ["path", "status", "body_contains", "max_latency"]
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

    func list(_ node: Yams.Node?, _ field: String) throws(Problem) -> [Yams.Node] {
      guard let node else { return [] }
      guard let sequence = node.sequence else { throw fail(node, field, "must be a list") }
      return Array(sequence)
    }

    /// A command: a list of arguments, or one line of text run by `sh -c`.
    func commandLine(_ node: Yams.Node?, _ field: String) throws(Problem) -> [String]? {
      guard let node else { return nil }
      if node.sequence != nil { return try strings(node, field) }
      return ["sh", "-c", try string(node, field)]
    }

    func tests(_ node: Yams.Node?) throws(Problem) -> [TestSpec] {
      var out: [TestSpec] = []
      for (index, item) in try list(node, "tests").enumerated() {
        let field = "tests[\(index)]"
        let fields = try mapping(item, field, known: AppSpecFile.testFields)
        guard let name = fields["name"] else { throw fail(item, field, "needs a name") }
        guard let command = try commandLine(fields["command"], "\(field).command") else {
          throw fail(item, field, "needs a command (a list, or a line for sh -c)")
        }
        var companions: [CompanionSpec] = []
        for (position, entry) in try list(fields["companions"], "\(field).companions")
          .enumerated()
        {
          let place = "\(field).companions[\(position)]"
          let parts = try mapping(entry, place, known: AppSpecFile.companionFields)
          guard let companionName = parts["name"], let image = parts["image"] else {
            throw fail(entry, place, "needs a name and an image")
          }
          companions.append(
            CompanionSpec(
              name: try string(companionName, "\(place).name"),
              image: try string(image, "\(place).image"),
              env: try dictionary(parts["env"], "\(place).env"),
              command: try commandLine(parts["command"], "\(place).command")))
        }
        out.append(
          TestSpec(
            name: try string(name, "\(field).name"), command: command,
            env: try dictionary(fields["env"], "\(field).env"),
            timeoutMillis: try duration(fields["timeout"], "\(field).timeout") ?? 300_000,
            companions: companions))
      }
      return out
    }

    func checks(_ node: Yams.Node?) throws(Problem) -> [CheckSpec] {
      var out: [CheckSpec] = []
      for (index, item) in try list(node, "checks").enumerated() {
        let field = "checks[\(index)]"
        let fields = try mapping(item, field, known: AppSpecFile.checkFields)
        guard let name = fields["name"] else { throw fail(item, field, "needs a name") }
        let tcp = try fields["tcp"].map { node throws(Problem) in try bool(node, "\(field).tcp") }
        var http: HTTPCheck?
        if let node = fields["http"] {
          let parts = try mapping(node, "\(field).http", known: AppSpecFile.httpCheckFields)
          guard let path = parts["path"] else { throw fail(node, "\(field).http", "needs a path") }
          http = HTTPCheck(
            path: try string(path, "\(field).http.path"),
            status: try parts["status"].map { node throws(Problem) in
              try int(node, "\(field).http.status")
            } ?? 200,
            bodyContains: try parts["body_contains"].map { node throws(Problem) in
              try string(node, "\(field).http.body_contains")
            },
            maxLatencyMillis: try duration(parts["max_latency"], "\(field).http.max_latency"))
        }
        guard (http != nil) != (tcp == true) else {
          throw fail(item, field, "give exactly one of http: {path: ...} or tcp: true")
        }
        out.append(
          CheckSpec(
            name: try string(name, "\(field).name"), http: http,
            timeoutMillis: try duration(fields["timeout"], "\(field).timeout") ?? 2000))
      }
      return out
    }

    /// `build:`: how the image is built in the cluster (schedctl build, the webhook).
    func build(_ node: Yams.Node?) throws(Problem) -> BuildSettings? {
      guard let node else { return nil }
      let fields = try mapping(node, "build", known: AppSpecFile.buildFields)
      var settings = BuildSettings()
      if let timeout = try duration(fields["timeout"], "build.timeout") {
        settings.timeoutMillis = timeout
      }
      if let cpu = fields["cpu"] {
        let text = try string(cpu, "build.cpu")
        do throws(ModelError) { settings.resources.cpuMillis = try Quantity.parseCPU(text) } catch {
          throw fail(cpu, "build.cpu", error.message)
        }
      }
      if let memory = fields["memory"] {
        let text = try string(memory, "build.memory")
        do throws(ModelError) {
          settings.resources.memoryBytes = try Quantity.parseMemory(text)
        } catch { throw fail(memory, "build.memory", error.message) }
      }
      if let path = fields["dockerfile"] {
        settings.dockerfile = try string(path, "build.dockerfile")
      }
      if let git = fields["git"] { settings.git = try string(git, "build.git") }
      if let onPush = fields["on_push"] {
        guard let value = BuildSettings.OnPush(rawValue: try string(onPush, "build.on_push"))
        else { throw fail(onPush, "build.on_push", "must be build, deploy or verify") }
        settings.onPush = value
      }
      if let flag = fields["switch_after_verify"] {
        settings.switchAfterVerify = try bool(flag, "build.switch_after_verify")
      }
      return settings
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
      var https: HTTPSSettings?
      if let node = top["https"] {
        let fields = try mapping(node, "https", known: AppSpecFile.httpsFields)
        https = HTTPSSettings(
          redirect: try fields["redirect"].map { node throws(Problem) in
            try bool(node, "https.redirect")
          } ?? false,
          hsts: try fields["hsts"].map { node throws(Problem) in try string(node, "https.hsts") },
          acme: try fields["acme"].map { node throws(Problem) in try bool(node, "https.acme") }
            ?? false)
      }
      var log: LogConfig?
      if let node = top["log"] {
        let fields = try mapping(node, "log", known: AppSpecFile.logFields)
        log = LogConfig(
          driver: try string(fields["driver"], "log.driver"),
          options: try dictionary(fields["options"], "log.options"))
      }
      var spec = AppSpec(
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
        drainTimeoutMillis: try duration(top["drain_timeout"], "drain_timeout") ?? 30_000,
        tests: try tests(top["tests"]), checks: try checks(top["checks"]), log: log,
        build: try build(top["build"]), secrets: try strings(top["secrets"], "secrets"),
        secretFiles: try strings(top["secret_files"], "secret_files"))
      spec.https = https
      do throws(ModelError) {
        try spec.validate()
      } catch {
        // Point at the line of the field the rule is about.
        // The model names a few fields otherwise than the file does (`port` is the API's
        // `container_port`): the message uses the file's name.
        let modelField = String(error.message.prefix { $0 != ":" })
        let field = AppSpecFile.fileNames[modelField] ?? modelField
        let key = field.split(separator: ".").first.map(String.init) ?? field
        throw fail(top[key] ?? root, field, String(error.message.dropFirst(modelField.count + 2)))
      }
      return spec
    }
  }
}
