import Foundation
import Logging
import OperatorAPI
import SchedModel
import SchedStore
import SchedWire

/// The cluster's builds: one owner of their records and logs. A build is ordered (its
/// context uploaded to the image store, or a git ref), waits for the app's earlier builds
/// (one at a time per app), is placed on a builder node with room for it (reserved while it
/// runs, like a slot), and ends with its image tagged in the store or with the step that
/// failed.
public actor BuildService {
  let cluster: Cluster
  let apps: AppService
  let images: ImageService
  let store: any StateStore
  let now: @Sendable () -> Date
  let logger: Logger
  /// The largest context accepted, in bytes.
  public let maxContextBytes: Int64
  /// How long a build waits for a builder with room before it fails.
  let placementPatience: Duration

  private var records: [String: BuildRecord] = [:]
  private var logs: [String: BuildLogBuffer] = [:]
  private var numbers: [String: Int] = [:]
  /// The last build task of each app: the next one waits for it.
  private var tails: [String: Task<Void, Never>] = [:]
  private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
  /// Builds handed to their app's queue.
  private var started: Set<String> = []

  init(
    cluster: Cluster, apps: AppService, images: ImageService, maxContextBytes: Int64,
    placementPatience: Duration = .seconds(600), logger: Logger
  ) async {
    self.cluster = cluster
    self.apps = apps
    self.images = images
    self.store = cluster.store
    self.now = cluster.now
    self.maxContextBytes = maxContextBytes
    self.placementPatience = placementPatience
    self.logger = logger
    // Builds the scheduler was running when it stopped cannot finish: their acks are gone.
    let open = ((try? await store.builds(app: nil, limit: 200)) ?? []).filter { !$0.isOver }
    for var build in open {
      build.state = .failed
      build.finishedAt = now()
      build.failure = BuildFailure(
        message: "the scheduler restarted during the build; run it again")
      try? await store.saveBuild(
        build,
        events: [event(build, "build.failed", build.failure!.message, actor: "scheduler")])
    }
  }

  // MARK: ordering

  /// Records a new build of `app`; it starts with `start` (context) or at once (git).
  public func create(_ app: String, _ request: BuildCreateRequest, actor: String)
    async throws(SchedulerError) -> BuildView
  {
    guard let record = await apps.apps().first(where: { $0.name == app }) else {
      throw SchedulerError(.notFound, "no app '\(app)'; apply its spec first (schedctl app apply)")
    }
    let settings = record.spec.build ?? BuildSettings()
    if let bytes = request.contextBytes, bytes > maxContextBytes {
      throw SchedulerError(
        .tooLarge,
        "the build context is \(ByteCount.text(bytes)), over the scheduler's bound of \(ByteCount.text(maxContextBytes)) (schedd --max-build-context); leave out what the image does not need with a .dockerignore"
      )
    }
    let fromContext = request.context != nil || request.contextBytes != nil
    let git = request.git ?? (fromContext ? nil : settings.git)
    guard fromContext || git != nil else {
      throw SchedulerError(
        .invalid,
        "a build needs a context (schedctl build --context DIR) or a git repository (--git URL, or build.git in the spec)"
      )
    }
    let ref = request.ref ?? (git != nil ? "main" : "local")
    let number = try await nextNumber(app)
    let reference = "\(app):\(BuildRecord.tag(ref: ref, number: number))"
    var build = BuildRecord(
      id: "\(app)-\(number)", app: app, number: number, ref: ref, kind: request.kind,
      source: git ?? "context", actor: actor, queuedAt: now(), reference: reference,
      contextBytes: request.contextBytes)
    build.context = request.context
    build.dockerfile = request.dockerfile ?? settings.dockerfile
    try await save(
      build, event(build, "build.queued", "\(build.kind.rawValue) build of \(ref)", actor: actor))
    logs[build.id] = BuildLogBuffer()
    if git != nil { enqueue(build.id) }
    let upload = request.context.map { images.blobs.size(of: $0) == nil } ?? false
    return BuildView(build: build, upload: upload)
  }

  /// Starts a build whose context (`context`, or the one it was ordered with) is now in the
  /// store.
  public func start(_ id: String, context: ContentDigest?) async throws(SchedulerError)
    -> BuildView
  {
    guard var build = records[id] else {
      throw SchedulerError(.notFound, "no build '\(id)' is waiting to start")
    }
    guard build.state == .queued, !started.contains(id) else { return view(build) }
    if let context, context != build.context {
      build.context = context
      build.contextBytes = images.blobs.size(of: context)
      records[id] = build
    }
    if build.source == "context" {
      guard let context = build.context else {
        throw SchedulerError(
          .invalid, "build \(id) was ordered with a context: name its blob to start it")
      }
      guard let size = images.blobs.size(of: context) else {
        throw SchedulerError(
          .conflict,
          "the context \(context.short) of build \(id) is not in the store yet; upload it first")
      }
      guard size <= maxContextBytes else {
        throw SchedulerError(
          .tooLarge,
          "the build context is \(ByteCount.text(size)), over the bound of \(ByteCount.text(maxContextBytes))"
        )
      }
      records[id]?.contextBytes = size
    }
    enqueue(id)
    return view(build)
  }

  private func enqueue(_ id: String) {
    guard let build = records[id], !started.contains(id) else { return }
    started.insert(id)
    let previous = tails[build.app]
    tails[build.app] = Task {
      await previous?.value
      await self.execute(id)
    }
  }

  // MARK: reading

  /// A build by id: one this process holds, else a stored one among the recent.
  public func get(_ id: String) async -> BuildView? {
    if let build = records[id] { return view(build) }
    return await list(app: nil, limit: 500).first { $0.id == id }.map { BuildView(build: $0) }
  }

  public func list(app: String?, limit: Int = 50) async -> [BuildRecord] {
    (try? await store.builds(app: app, limit: limit)) ?? []
  }

  /// Output from line `from` on, waiting up to `wait` for some when there is none yet.
  public func log(_ id: String, from: Int, wait: Duration) async throws(SchedulerError)
    -> BuildLogResponse
  {
    guard records[id] != nil else {
      throw SchedulerError(.notFound, "no build '\(id)' since the scheduler started")
    }
    if (logs[id]?.count ?? 0) <= from, records[id]?.isOver == false, wait > .zero {
      await withCheckedContinuation { continuation in
        waiters[id, default: []].append(continuation)
        Task {
          try? await Task.sleep(for: wait)
          self.wake(id)
        }
      }
    }
    let buffer = logs[id] ?? BuildLogBuffer()
    return BuildLogResponse(
      lines: buffer.lines(from: from), next: buffer.count,
      state: records[id]?.state ?? .failed, dropped: buffer.dropped)
  }

  /// The last `lines` of every running build's output, by build.
  public func runningTails(lines: Int) -> [String: [String]] {
    var tails: [String: [String]] = [:]
    for (id, build) in records where build.state == .running {
      let buffer = logs[id] ?? BuildLogBuffer()
      tails[id] = buffer.lines(from: max(0, buffer.count - lines))
    }
    return tails
  }

  /// Waits until build `id` is over; its record then.
  public func finished(_ id: String) async -> BuildRecord? {
    while let build = records[id], !build.isOver {
      await withCheckedContinuation { waiters[id, default: []].append($0) }
    }
    return records[id]
  }

  /// A builder's output arrived.
  func received(_ log: BuildLog, from node: NodeID) {
    guard records[log.build]?.node == node else { return }
    logs[log.build, default: BuildLogBuffer()].append(from: log.from, log.lines)
    wake(log.build)
  }

  /// A line of the scheduler's own about a build (waiting for a builder, a refusal).
  func note(_ id: String, _ line: String) {
    var buffer = logs[id] ?? BuildLogBuffer()
    buffer.append(from: buffer.count, [line])
    logs[id] = buffer
    wake(id)
  }

  func record(_ id: String) -> BuildRecord? { records[id] }

  /// Persists `build` with its event, then holds it; a finished build wakes its waiters.
  func save(_ build: BuildRecord, _ event: ClusterEvent) async throws(SchedulerError) {
    do { try await store.saveBuild(build, events: [event]) } catch {
      throw SchedulerError(.store, "cannot record build \(build.id): \(error.message)")
    }
    records[build.id] = build
    if build.isOver { wake(build.id) }
  }

  private func nextNumber(_ app: String) async throws(SchedulerError) -> Int {
    if numbers[app] == nil {
      let last: Int
      do { last = try await store.builds(app: app, limit: 1).first?.number ?? 0 } catch {
        throw SchedulerError(.store, "cannot read the builds of \(app): \(error.message)")
      }
      // Another order may have read it meanwhile (the actor let it in during the read).
      numbers[app] = max(numbers[app] ?? 0, last)
    }
    let next = (numbers[app] ?? 0) + 1
    numbers[app] = next
    return next
  }

  private func wake(_ id: String) {
    for waiter in waiters.removeValue(forKey: id) ?? [] { waiter.resume() }
  }

  private func view(_ build: BuildRecord) -> BuildView {
    BuildView(build: build, upload: false, logLines: logs[build.id]?.count ?? 0)
  }
}
