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

  public init(
    images: Set<String> = [], registry: Set<String> = [],
    now: @escaping @Sendable () -> Date = Date.init
  ) {
    self.images = images
    self.registry = registry
    self.now = now
  }

  public func create(_ spec: ContainerSpec) throws(RuntimeError) -> String {
    guard images.contains(spec.image) else {
      throw RuntimeError(.notFound, "no such image: \(spec.image)")
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
      restartPolicy: spec.restartUnlessStopped ? "unless-stopped" : "no")
    return id
  }

  public func start(_ id: String) throws(RuntimeError) {
    let key = try resolve(id)
    guard containers[key]!.state != .running else { return }
    containers[key]!.state = .running
    containers[key]!.startedAt = now()
    containers[key]!.exitCode = nil
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
