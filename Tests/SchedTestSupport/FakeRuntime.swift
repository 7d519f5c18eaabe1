import AgentCore
import Foundation

/// An in-memory container runtime with the engine's rules that matter to the agent: unique
/// names, idempotent start and stop, label filters, images that must exist.
public actor FakeRuntime: ContainerRuntime {
  private var containers: [String: ContainerInfo] = [:]
  private var images: Set<String>
  /// Images `ensureImage` can "pull".
  private var registry: Set<String>
  private var counter = 0
  /// How many times `list` was called: a reconcile pass lists once.
  public private(set) var listCalls = 0
  private let now: @Sendable () -> Date

  /// Image ids of references that are not the fake's hash of their name: what a pull by
  /// digest brings (the id is the config digest the manifest names).
  private var ids: [String: String]

  public init(
    images: Set<String> = [], registry: Set<String> = [], ids: [String: String] = [:],
    now: @escaping @Sendable () -> Date = Date.init
  ) {
    self.images = images
    self.registry = registry
    self.ids = ids
    self.now = now
  }

  private var specs: [String: ContainerSpec] = [:]
  private var output: [String: String] = [:]
  private var networks: [String: (name: String, labels: [String: String])] = [:]
  private var onStart: (@Sendable (ContainerSpec) -> (exitCode: Int, output: String)?)?

  /// A stable stand-in for an image's config digest.
  public static func imageID(of image: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in image.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return "sha256:" + String(repeating: String(format: "%016llx", hash), count: 4)
  }

  /// What started containers do: a script that returns an exit code and output makes the
  /// container exit at once (a test command); nil keeps it running (a web slot).
  public func whenStarted(
    _ script: @escaping @Sendable (ContainerSpec) -> (exitCode: Int, output: String)?
  ) {
    onStart = script
  }

  private func knownImage(_ image: String) -> Bool {
    images.contains(image) || images.contains { (ids[$0] ?? Self.imageID(of: $0)) == image }
  }

  public func create(_ spec: ContainerSpec) throws(RuntimeError) -> String {
    guard knownImage(spec.image) else {
      throw RuntimeError(.notFound, "no such image: \(spec.image)")
    }
    if let network = spec.network,
      !networks.contains(where: { $0.key == network || $0.value.name == network })
    {
      throw RuntimeError(.notFound, "network \(network) not found")
    }
    guard !containers.values.contains(where: { $0.name == spec.name }) else {
      throw RuntimeError(.conflict, "the container name \"/\(spec.name)\" is already in use")
    }
    counter += 1
    let id = String(format: "%064x", counter)
    containers[id] = ContainerInfo(
      id: id, name: spec.name, image: spec.image, labels: spec.labels, state: .created,
      cpuMillis: spec.cpuMillis, memoryBytes: spec.memoryBytes,
      publishedPorts: spec.networkMode == .bridge ? ["\(spec.hostIP):\(spec.hostPort)"] : [],
      restartPolicy: spec.restartUnlessStopped ? "unless-stopped" : "no",
      imageID: spec.image.hasPrefix("sha256:") ? spec.image : Self.imageID(of: spec.image))
    specs[id] = spec
    return id
  }

  /// The spec a container named `name` was made from.
  public func spec(named name: String) -> ContainerSpec? {
    containers.first { $0.value.name == name }.flatMap { specs[$0.key] }
  }

  /// Starts that fail before doing anything, as when the engine goes away under them.
  private var failingStarts = 0

  /// The next `count` starts fail with an unavailable engine.
  public func failStarts(_ count: Int) { failingStarts = count }

  /// What an engine's restart policy does on its own (after the engine restarted): every
  /// stopped container runs again, without the agent asking.
  public func restartStopped() {
    for key in containers.keys where containers[key]!.state != .running {
      containers[key]!.state = .running
      containers[key]!.startedAt = now()
      containers[key]!.exitCode = nil
    }
  }

  public func start(_ id: String) throws(RuntimeError) {
    if failingStarts > 0 {
      failingStarts -= 1
      throw RuntimeError(.unavailable, "cannot talk to the Docker Engine: connection reset")
    }
    let key = try resolve(id)
    guard containers[key]!.state != .running else { return }
    containers[key]!.state = .running
    containers[key]!.startedAt = now()
    containers[key]!.exitCode = nil
    if let spec = specs[key], let result = onStart?(spec) {
      containers[key]!.state = .exited
      containers[key]!.exitCode = result.exitCode
      output[key, default: ""] += result.output
    }
  }

  public func stop(_ id: String, timeout: Duration) throws(RuntimeError) {
    let key = try resolve(id)
    guard containers[key]!.state == .running else { return }
    containers[key]!.state = .exited
    containers[key]!.exitCode = 0
  }

  public func remove(_ id: String) {
    guard let key = try? resolve(id) else { return }
    containers[key] = nil
    specs[key] = nil
    output[key] = nil
  }

  public func list(labels: [String: String]) -> [ContainerInfo] {
    listCalls += 1
    return containers.values.filter { info in labels.allSatisfy { info.labels[$0.key] == $0.value }
    }
    .sorted { $0.name < $1.name }
  }

  public func inspect(_ id: String) throws(RuntimeError) -> ContainerInfo {
    containers[try resolve(id)]!
  }

  public func stats(_ id: String) throws(RuntimeError) -> ContainerStats {
    let info = containers[try resolve(id)]!
    guard info.state == .running else {
      throw RuntimeError(.invalid, "container \(info.name) is not running")
    }
    return ContainerStats(cpuMillis: 1, memoryBytes: 1 << 20)
  }

  public func ensureImage(_ image: String) throws(RuntimeError) {
    if images.contains(image) { return }
    guard registry.contains(image) else {
      throw RuntimeError(.notFound, "image \(image) is not present and cannot be pulled")
    }
    images.insert(image)
  }

  public func imageID(_ image: String) throws(RuntimeError) -> String {
    if image.hasPrefix("sha256:"), knownImage(image) { return image }
    if let original = aliases[image] { return try imageID(original) }
    guard images.contains(image) else { throw RuntimeError(.notFound, "no such image: \(image)") }
    return ids[image] ?? Self.imageID(of: image)
  }

  /// References pulled, in order, with the credentials they were pulled with.
  public private(set) var pulls: [(reference: String, auth: String?)] = []

  public func pull(_ reference: String, auth: String?) throws(RuntimeError) {
    pulls.append((reference, auth))
    guard registry.contains(reference) else {
      throw RuntimeError(.notFound, "pulling \(reference) failed: not in the fake registry")
    }
    images.insert(reference)
  }

  /// Names given by `tag`, to the image they name.
  private var aliases: [String: String] = [:]

  public func tag(_ image: String, as reference: String) throws(RuntimeError) {
    guard knownImage(image) || aliases[image] != nil else {
      throw RuntimeError(.notFound, "no such image: \(image)")
    }
    aliases[reference] = aliases[image] ?? image
    images.insert(reference)
  }

  public func createNetwork(name: String, labels: [String: String]) throws(RuntimeError)
    -> String
  {
    guard !networks.values.contains(where: { $0.name == name }) else {
      throw RuntimeError(.conflict, "network with name \(name) already exists")
    }
    counter += 1
    let id = String(format: "%064x", counter)
    networks[id] = (name, labels)
    return id
  }

  public func removeNetwork(_ id: String) {
    networks = networks.filter { $0.key != id && $0.value.name != id }
  }

  public func listNetworks(labels: [String: String]) -> [String] {
    networks.filter { entry in labels.allSatisfy { entry.value.labels[$0.key] == $0.value } }
      .keys.sorted()
  }

  public func logs(_ id: String, tailBytes: Int) throws(RuntimeError) -> String {
    let text = output[try resolve(id)] ?? ""
    return String(text.utf8.suffix(tailBytes)) ?? text
  }

  // MARK: for tests

  /// Simulates a crash: the container exits with `code`.
  public func crash(_ id: String, code: Int = 137) throws(RuntimeError) {
    let key = try resolve(id)
    containers[key]!.state = .exited
    containers[key]!.exitCode = code
  }

  public func addImage(_ image: String) { images.insert(image) }

  private func resolve(_ idOrName: String) throws(RuntimeError) -> String {
    if containers[idOrName] != nil { return idOrName }
    if let match = containers.values.first(where: {
      $0.name == idOrName || $0.id.hasPrefix(idOrName) && idOrName.count >= 12
    }) {
      return match.id
    }
    throw RuntimeError(.notFound, "no such container: \(idOrName)")
  }
}
