import SchedModel

/// Slot lists (`command` frames with an `assign` action) written and read without `Codable`:
/// a node's whole list goes out on every change to it, and with tens of slots a node
/// `JSONEncoder` and `JSONDecoder` took a tenth of the scheduler's and the agent's CPU during
/// deploys. A list with registry credentials, and any line in a form not expected here, goes
/// through Foundation as before.
extension HotFrames {
  // MARK: writing

  /// A command line for an assign without registry credentials; nil otherwise.
  static func encode(_ command: Command, version: Int, id: String?) -> String? {
    guard case .assign(let assign) = command.action, assign.registries.isEmpty else { return nil }
    var line = JSONLine(capacity: 200 + assign.slots.count * 600 + assign.images.count * 200)
    line.raw("{\"v\":\(version),\"type\":\"command\"")
    if let id {
      line.raw(",\"id\":")
      line.string(id)
    }
    line.raw(",\"action\":{")
    if !assign.images.isEmpty {
      line.raw("\"images\":[")
      for (index, image) in assign.images.enumerated() {
        if index > 0 { line.raw(",") }
        line.raw("{\"config\":")
        line.string(image.config.rawValue)
        line.raw(",\"manifest\":")
        line.string(image.manifest.rawValue)
        line.raw(",\"reference\":")
        line.string(image.reference)
        line.raw(",\"size\":")
        line.int(image.size)
        line.raw("}")
      }
      line.raw("],")
    }
    line.raw("\"kind\":\"assign\",\"slots\":[")
    for (index, slot) in assign.slots.enumerated() {
      if index > 0 { line.raw(",") }
      write(slot, to: &line)
    }
    line.raw("]},\"generation\":")
    line.int(command.generation)
    line.raw("}")
    return line.text
  }

  /// A slot assignment, its keys sorted as `JSONEncoder` sorts them.
  private static func write(_ slot: SlotAssignment, to line: inout JSONLine) {
    line.raw("{\"container_port\":")
    line.int(Int64(slot.containerPort))
    line.raw(",\"deployment\":")
    line.string(slot.deployment)
    line.raw(",\"env\":")
    line.map(slot.env)
    line.raw(",\"health\":{\"healthy_threshold\":")
    line.int(Int64(slot.health.healthyThreshold))
    line.raw(",\"interval_ms\":")
    line.int(slot.health.intervalMillis)
    line.raw(",\"path\":")
    line.string(slot.health.path)
    line.raw(",\"timeout_ms\":")
    line.int(slot.health.timeoutMillis)
    line.raw(",\"unhealthy_threshold\":")
    line.int(Int64(slot.health.unhealthyThreshold))
    line.raw("},\"host_port\":")
    line.int(Int64(slot.hostPort))
    line.raw(",\"image\":")
    line.string(slot.image)
    if let log = slot.log {
      line.raw(",\"log\":{\"driver\":")
      line.string(log.driver)
      line.raw(",\"options\":")
      line.map(log.options)
      line.raw("}")
    }
    line.raw(",\"network\":")
    line.string(slot.network.rawValue)
    line.raw(",\"resources\":{\"cpu_millis\":")
    line.int(slot.resources.cpuMillis)
    line.raw(",\"memory_bytes\":")
    line.int(slot.resources.memoryBytes)
    line.raw("}")
    if let files = slot.secretFiles {
      line.raw(",\"secret_files\":")
      line.map(files)
    }
    let security = slot.security
    line.raw(",\"security\":{\"binds\":")
    line.strings(security.binds)
    line.raw(",\"cap_add\":")
    line.strings(security.capAdd)
    line.raw(",\"devices\":")
    line.strings(security.devices)
    line.raw(",\"host_ipc\":\(security.hostIPC),\"host_pid\":\(security.hostPID)")
    line.raw(",\"privileged\":\(security.privileged)},\"slot\":{\"app\":")
    line.string(slot.slot.app)
    line.raw(",\"color\":")
    line.string(slot.slot.color.rawValue)
    line.raw(",\"index\":")
    line.int(Int64(slot.slot.index))
    line.raw("}}")
  }

  // MARK: reading

  /// The frame if `line` is an assign command of a supported version in the plain form; nil
  /// leaves it to `JSONDecoder`.
  static func decodeAssign(_ line: UnsafeRawBufferPointer) -> Frame? {
    var scanner = JSONScanner(line)
    var version: Int64?
    var isCommand = false
    var id: String?
    var generation: Int64?
    var assign: AssignSlots?
    let read = JSONScanner.object(&scanner) { key, scanner in
      if key == "v" {
        version = scanner.int64()
        return version != nil
      } else if key == "type" {
        isCommand = scanner.string() == "command"
        return isCommand
      } else if key == "id" {
        if scanner.takeNull() { return true }
        id = scanner.string()
        return id != nil
      } else if key == "generation" {
        generation = scanner.int64()
        return generation != nil
      } else if key == "action" {
        assign = assignAction(&scanner)
        return assign != nil
      }
      return false
    }
    guard read, scanner.atEnd, isCommand, let version, let generation, let assign,
      let v = Int(exactly: version), ProtocolVersion.supported.contains(v)
    else { return nil }
    return Frame(
      version: v, id: id, .command(Command(generation: generation, action: .assign(assign))))
  }

  private static func assignAction(_ scanner: inout JSONScanner) -> AssignSlots? {
    var isAssign = false
    var slots: [SlotAssignment]?
    var images: [ImageSource] = []
    let read = JSONScanner.object(&scanner) { key, scanner in
      if key == "kind" {
        isAssign = scanner.string() == "assign"
        return isAssign
      } else if key == "slots" {
        slots = JSONScanner.array(&scanner, assignment)
        return slots != nil
      } else if key == "images" {
        guard let list = JSONScanner.array(&scanner, imageSource) else { return false }
        images = list
        return true
      }
      return false
    }
    guard read, isAssign, let slots else { return nil }
    return AssignSlots(slots: slots, images: images)
  }

  private static func imageSource(_ scanner: inout JSONScanner) -> ImageSource? {
    var reference: String?
    var manifest: ContentDigest?
    var config: ContentDigest?
    var size: Int64?
    let read = JSONScanner.object(&scanner) { key, scanner in
      if key == "reference" {
        reference = scanner.string()
        return reference != nil
      } else if key == "manifest" {
        manifest = scanner.string().flatMap(ContentDigest.init(rawValue:))
        return manifest != nil
      } else if key == "config" {
        config = scanner.string().flatMap(ContentDigest.init(rawValue:))
        return config != nil
      } else if key == "size" {
        size = scanner.int64()
        return size != nil
      }
      return false
    }
    guard read, let reference, let manifest, let config, let size else { return nil }
    return ImageSource(reference: reference, manifest: manifest, config: config, size: size)
  }

  private static func assignment(_ scanner: inout JSONScanner) -> SlotAssignment? {
    var slot: SlotID?
    var deployment: String?
    var image: String?
    var resources: Resources?
    var hostPort: Int?
    var containerPort: Int?
    var env: [String: String]?
    var health: HealthCheck?
    var network: NetworkMode?
    var security: SecurityRequest?
    var log: LogConfig?
    var secretFiles: [String: String]?
    let read = JSONScanner.object(&scanner) { key, scanner in
      if key == "slot" {
        slot = slotID(&scanner)
        return slot != nil
      } else if key == "deployment" {
        deployment = scanner.string()
        return deployment != nil
      } else if key == "image" {
        image = scanner.string()
        return image != nil
      } else if key == "resources" {
        resources = HotFrames.resources(&scanner)
        return resources != nil
      } else if key == "host_port" {
        hostPort = scanner.int64().flatMap { Int(exactly: $0) }
        return hostPort != nil
      } else if key == "container_port" {
        containerPort = scanner.int64().flatMap { Int(exactly: $0) }
        return containerPort != nil
      } else if key == "env" {
        env = scanner.stringMap()
        return env != nil
      } else if key == "health" {
        health = healthCheck(&scanner)
        return health != nil
      } else if key == "network" {
        network = scanner.string().flatMap(NetworkMode.init(rawValue:))
        return network != nil
      } else if key == "security" {
        security = securityRequest(&scanner)
        return security != nil
      } else if key == "log" {
        if scanner.takeNull() { return true }
        log = logConfig(&scanner)
        return log != nil
      } else if key == "secret_files" {
        if scanner.takeNull() { return true }
        secretFiles = scanner.stringMap()
        return secretFiles != nil
      }
      return false
    }
    guard read, let slot, let deployment, let image, let resources, let hostPort,
      let containerPort, let env, let health, let network, let security
    else { return nil }
    var out = SlotAssignment(
      slot: slot, deployment: deployment, image: image, resources: resources, hostPort: hostPort,
      containerPort: containerPort, env: env, health: health, network: network,
      security: security, log: log)
    out.secretFiles = secretFiles
    return out
  }

  private static func resources(_ scanner: inout JSONScanner) -> Resources? {
    var cpu: Int64?
    var memory: Int64?
    let read = JSONScanner.object(&scanner) { key, scanner in
      if key == "cpu_millis" {
        cpu = scanner.int64()
        return cpu != nil
      } else if key == "memory_bytes" {
        memory = scanner.int64()
        return memory != nil
      }
      return false
    }
    guard read, let cpu, let memory else { return nil }
    return Resources(cpuMillis: cpu, memoryBytes: memory)
  }

  private static func healthCheck(_ scanner: inout JSONScanner) -> HealthCheck? {
    var path: String?
    var interval: Int64?
    var timeout: Int64?
    var healthy: Int?
    var unhealthy: Int?
    let read = JSONScanner.object(&scanner) { key, scanner in
      if key == "path" {
        path = scanner.string()
        return path != nil
      } else if key == "interval_ms" {
        interval = scanner.int64()
        return interval != nil
      } else if key == "timeout_ms" {
        timeout = scanner.int64()
        return timeout != nil
      } else if key == "healthy_threshold" {
        healthy = scanner.int64().flatMap { Int(exactly: $0) }
        return healthy != nil
      } else if key == "unhealthy_threshold" {
        unhealthy = scanner.int64().flatMap { Int(exactly: $0) }
        return unhealthy != nil
      }
      return false
    }
    guard read, let path, let interval, let timeout, let healthy, let unhealthy else {
      return nil
    }
    return HealthCheck(
      path: path, intervalMillis: interval, timeoutMillis: timeout, healthyThreshold: healthy,
      unhealthyThreshold: unhealthy)
  }

  /// Every field may be left out, as `SecurityRequest`'s own decoder allows.
  private static func securityRequest(_ scanner: inout JSONScanner) -> SecurityRequest? {
    var out = SecurityRequest()
    let read = JSONScanner.object(&scanner) { key, scanner in
      if key == "privileged", let value = scanner.bool() {
        out.privileged = value
      } else if key == "host_pid", let value = scanner.bool() {
        out.hostPID = value
      } else if key == "host_ipc", let value = scanner.bool() {
        out.hostIPC = value
      } else if key == "binds", let value = scanner.strings() {
        out.binds = value
      } else if key == "cap_add", let value = scanner.strings() {
        out.capAdd = value
      } else if key == "devices", let value = scanner.strings() {
        out.devices = value
      } else {
        return false
      }
      return true
    }
    return read ? out : nil
  }

  private static func logConfig(_ scanner: inout JSONScanner) -> LogConfig? {
    var driver: String?
    var options: [String: String]?
    let read = JSONScanner.object(&scanner) { key, scanner in
      if key == "driver" {
        driver = scanner.string()
        return driver != nil
      } else if key == "options" {
        options = scanner.stringMap()
        return options != nil
      }
      return false
    }
    guard read, let driver, let options else { return nil }
    return LogConfig(driver: driver, options: options)
  }
}
