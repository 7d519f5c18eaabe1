import AgentCore
import Blobs
import Foundation
import Logging
import NIOCore
import SchedModel
import SchedWire
import Synchronization
import WireTransport

/// Where a builder stores what it built: the scheduler's image store in production.
public protocol BlobDestination: Sendable {
  /// Uploads the files the store lacks; returns the bytes sent.
  func upload(_ files: [BlobClient.Upload]) async throws -> Int64
}

extension SchedulerBlobSource: BlobDestination {
  public func upload(_ files: [BlobClient.Upload]) async throws -> Int64 {
    let (hello, tls) = try link()
    return try await BlobClient.upload(
      files, host: host, port: port, hello: hello, expectCluster: cluster.known, tls: tls)
  }
}

/// Runs the builds a scheduler orders on this builder node: the context from the image store
/// (or a git checkout), the engine's build with its output streamed back line by line, then
/// the image exported and its missing blobs uploaded to the store. A build past its timeout
/// is stopped. Everything it wrote locally is removed when it ends.
public actor BuildRunner {
  let builder: any ImageBuilder
  let source: any BlobSource
  let destination: any BlobDestination
  let workRoot: String
  let logger: Logger
  /// The most the engine's image layers may take after a build; older build images go first.
  let cacheLimit: Int64?
  /// Builds under way by id: a command sent again joins the one running.
  private var running: [String: Task<CommandAck, Never>] = [:]

  public init(
    builder: any ImageBuilder, source: any BlobSource, destination: any BlobDestination,
    workRoot: String, cacheLimit: Int64? = nil, logger: Logger
  ) {
    self.cacheLimit = cacheLimit
    self.builder = builder
    self.source = source
    self.destination = destination
    self.workRoot = workRoot
    self.logger = logger
  }

  /// Runs `order` (or joins the run of the same build), sending its output to `log`.
  public func run(_ order: BuildOrder, log: @escaping @Sendable (BuildLog) async -> Void) async
    -> CommandAck
  {
    if let task = running[order.build] { return await task.value }
    let lines = LogLines(build: order.build, send: log)
    let task = Task {
      let ack = await self.execute(order, log: lines)
      await self.trimCache(keeping: ack.build?.image?.rawValue, log: lines)
      return ack
    }
    running[order.build] = task
    let ack = await task.value
    running[order.build] = nil
    return ack
  }

  /// Removes the oldest build images while the engine's layers are over `cacheLimit`.
  private nonisolated func trimCache(keeping image: String?, log: LogLines) async {
    guard let cacheLimit else { return }
    do {
      let usage = try await builder.diskUsage()
      let doomed = BuildCachePolicy.prune(
        usage, limit: cacheLimit, keep: Set([image].compactMap { $0 }))
      guard !doomed.isEmpty else { return }
      for id in doomed { try await builder.removeImage(id) }
      await log.send([
        "--> the engine's images took \(ByteCount.text(usage.layersBytes)), over this builder's \(ByteCount.text(cacheLimit)): removed \(doomed.count) older build image(s)"
      ])
      logger.info(
        "build cache trimmed",
        metadata: ["removed": "\(doomed.count)", "layers.bytes": "\(usage.layersBytes)"])
    } catch {
      logger.warning("cannot trim the build cache", metadata: ["error": "\(error)"])
    }
  }

  private nonisolated func execute(_ order: BuildOrder, log: LogLines) async -> CommandAck {
    let directory = "\(workRoot)/\(order.build)-\(UInt32.random(in: 0...UInt32.max))"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true,
        attributes: [.posixPermissions: 0o700])
    } catch {
      return Self.failed("cannot make a work directory under \(workRoot): \(error)")
    }
    let contextPath = "\(directory)/context.tar"
    let started = ContinuousClock.now
    do {
      try await prepareContext(order, at: contextPath, directory: directory, log: log)
    } catch {
      return Self.failed("\(error)")
    }
    let transcript = Mutex(BuildTranscript())
    let options = EngineBuildOptions(
      dockerfile: order.dockerfile, tag: order.reference, full: order.kind == .full,
      labels: ["turnout.build": order.build, "turnout.app": order.app],
      cpuMillis: order.cpuMillis, memoryBytes: order.memoryBytes)
    if order.kind == .full {
      await refreshBases(contextPath: contextPath, dockerfile: order.dockerfile, log: log)
    }
    await log.send(
      ["--> building \(order.reference) (\(order.kind.rawValue)) with \(order.dockerfile)"])
    let engineStarted = ContinuousClock.now
    let outcome = await Self.within(.milliseconds(order.timeoutMillis)) { [builder] in
      try await builder.build(contextPath: contextPath, options: options) { progress in
        let lines = transcript.withLock { $0.take(progress) }
        if !lines.isEmpty { await log.send(lines) }
      }
    }
    let rest = transcript.withLock { $0.flush() }
    if !rest.isEmpty { await log.send(rest) }
    let result = transcript.withLock { $0 }
    switch outcome {
    case .timedOut:
      let limit = Duration.milliseconds(order.timeoutMillis)
      let failure = BuildFailure(
        step: result.step, steps: result.steps, instruction: result.instruction,
        message:
          "the build ran past its timeout (\(limit)) and was stopped; raise build.timeout in the app's spec if it needs longer",
        tail: result.tail)
      return CommandAck(ok: false, message: failure.summary, build: BuildOutcome(failure: failure))
    case .failed(let error):
      let failure = BuildFailure(
        step: result.step, steps: result.steps, instruction: result.instruction,
        message: error, tail: result.tail)
      return CommandAck(ok: false, message: failure.summary, build: BuildOutcome(failure: failure))
    case .finished:
      break
    }
    if let failure = result.failure {
      return CommandAck(ok: false, message: failure.summary, build: BuildOutcome(failure: failure))
    }
    await log.send([
      "--> the engine built it in \(Self.seconds(ContinuousClock.now - engineStarted))"
    ])
    let built = ContinuousClock.now - started
    do {
      var outcome = try await store(
        result.imageID ?? order.reference, directory: directory, log: log)
      outcome.steps = result.steps
      outcome.cachedSteps = result.cachedSteps
      logger.info(
        "build stored",
        metadata: [
          "build": "\(order.build)", "image": "\(outcome.image?.rawValue ?? "?")",
          "built": "\(built)", "uploaded": "\(outcome.uploadedBytes)",
        ])
      return CommandAck(ok: true, build: outcome)
    } catch {
      return Self.failed("the build succeeded but its image could not be stored: \(error)")
    }
  }

  /// The context tar at `path`: fetched from the store and checked, or packed from a checkout.
  private nonisolated func prepareContext(
    _ order: BuildOrder, at path: String, directory: String, log: LogLines
  ) async throws {
    if let digest = order.context {
      await log.send(["--> fetching the context (\(digest.short))"])
      guard FileManager.default.createFile(atPath: path, contents: nil),
        let handle = FileHandle(forWritingAtPath: path)
      else { throw BuildRunnerError("cannot write \(path)") }
      defer { try? handle.close() }
      _ = try await source.fetch(digest, offset: 0) { piece in
        try handle.write(contentsOf: Data(piece.readableBytesView))
      }
      let (actual, _) = try BlobHash.digest(ofFile: path)
      guard actual == digest else {
        throw BuildRunnerError("the context arrived as \(actual.short), not \(digest.short)")
      }
    } else if let git = order.git {
      await log.send(["--> checking out \(git.ref) of \(git.url)"])
      let checkout = "\(directory)/src"
      try await GitCheckout.run(
        url: git.url, ref: git.ref, into: checkout, timeout: .milliseconds(order.timeoutMillis))
      let archive = try ContextArchive.plan(directory: checkout, dockerfile: order.dockerfile)
      try archive.write(to: path)
    } else {
      throw BuildRunnerError("the build order names no context and no git source")
    }
  }

  /// A full build's fresh bases: each FROM image pulled again from its registry; one whose
  /// registry does not answer is built from the copy the engine has, and the log says so.
  private nonisolated func refreshBases(contextPath: String, dockerfile: String, log: LogLines)
    async
  {
    guard let text = ContextArchive.readMember(dockerfile, of: contextPath) else { return }
    for base in DockerfileBases.parse(text) {
      do {
        try await builder.refresh(base)
        await log.send(["--> refreshed base image \(base) from its registry"])
      } catch {
        await log.send([
          "--> could not refresh base image \(base) from its registry (\(error.message.prefix(160))); building from this engine's copy"
        ])
      }
    }
  }

  /// Exports the built image, uploads what the store lacks (the manifest last).
  private nonisolated func store(_ image: String, directory: String, log: LogLines)
    async throws -> BuildOutcome
  {
    let exportDirectory = "\(directory)/export"
    try FileManager.default.createDirectory(
      atPath: exportDirectory, withIntermediateDirectories: true)
    let exportStarted = ContinuousClock.now
    let digests = try await builder.exportImage(image, into: exportDirectory)
    let saved = try SavedImage.read(directory: exportDirectory, image: image, digests: digests)
    let exported = ContinuousClock.now - exportStarted
    let manifestBytes = saved.manifest.encoded()
    let manifestPath = "\(exportDirectory)/turnout-manifest.json"
    FileManager.default.createFile(atPath: manifestPath, contents: Data(manifestBytes))
    let manifest = BlobHash.digest(of: manifestBytes)
    let files =
      saved.layers.map { BlobClient.Upload(digest: $0.digest, path: $0.path, size: $0.size) } + [
        BlobClient.Upload(digest: saved.config, path: saved.configPath, size: saved.configSize),
        BlobClient.Upload(
          digest: manifest, path: manifestPath, size: Int64(manifestBytes.count)),
      ]
    await log.send(
      [
        "--> exported and checked \(saved.config.short) (\(saved.layers.count) layers, \(ByteCount.text(saved.manifest.size))) in \(Self.seconds(exported)); storing it in the cluster's image store"
      ])
    let uploadStarted = ContinuousClock.now
    let sent = try await destination.upload(files)
    await log.send([
      "--> uploaded \(ByteCount.text(sent)) in \(Self.seconds(ContinuousClock.now - uploadStarted)); the store had the rest"
    ])
    return BuildOutcome(
      manifest: manifest, image: saved.config, layers: saved.layers.map(\.digest),
      uploadedBytes: sent)
  }

  static func seconds(_ duration: Duration) -> String {
    let parts = duration.components
    return String(format: "%.2f s", Double(parts.seconds) + Double(parts.attoseconds) / 1e18)
  }

  enum Outcome {
    case finished
    case failed(String)
    case timedOut
  }

  /// Runs `body`, stopping it after `limit`.
  static func within(_ limit: Duration, _ body: @escaping @Sendable () async throws -> Void)
    async -> Outcome
  {
    await withTaskGroup(of: Outcome.self) { group in
      group.addTask {
        do {
          try await body()
          return .finished
        } catch let error as RuntimeError {
          return .failed(error.message)
        } catch {
          return .failed("\(error)")
        }
      }
      group.addTask {
        do { try await Task.sleep(for: limit) } catch { return .finished }
        return .timedOut
      }
      let first = await group.next() ?? .finished
      group.cancelAll()
      return first
    }
  }

  static func failed(_ message: String) -> CommandAck {
    CommandAck(
      ok: false, message: message, build: BuildOutcome(failure: BuildFailure(message: message)))
  }
}

/// A build's output on its way to the scheduler, numbered so the log has no gap or repeat.
final class LogLines: Sendable {
  let build: String
  let sendFrame: @Sendable (BuildLog) async -> Void
  private let count = Mutex(0)

  init(build: String, send: @escaping @Sendable (BuildLog) async -> Void) {
    self.build = build
    self.sendFrame = send
  }

  func send(_ lines: [String]) async {
    let from = count.withLock { value in
      defer { value += lines.count }
      return value
    }
    await sendFrame(BuildLog(build: build, from: from, lines: lines))
  }
}

/// Why a builder could not build.
struct BuildRunnerError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
