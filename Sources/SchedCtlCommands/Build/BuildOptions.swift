import ArgumentParser
import Blobs
import Foundation
import OperatorAPI
import SchedClient
import SchedModel

/// What to build: shared by `schedctl build` and `schedctl deploy --build`.
struct BuildOptions: ParsableArguments {
  @Option(help: "A directory to send as the build context (its .dockerignore is honoured).")
  var context: String?

  @Option(help: "A git repository the builder checks out instead (default: the spec's build.git).")
  var git: String?

  @Option(help: "The git ref to build (branch, tag or commit), or a name for a --context build.")
  var ref: String?

  @Option(help: "The Dockerfile's path in the context (default: the spec's build.dockerfile).")
  var dockerfile: String?

  @Flag(help: "Rebuild every layer: no layer cache, base images fetched afresh.")
  var full = false

  func validate() throws {
    if context != nil && git != nil {
      throw ValidationError("give --context or --git, not both")
    }
  }

  /// Orders the build, sends the context when there is one, follows the log to the end;
  /// returns the finished record (failed or not).
  func run(app: String, client: APIClient, output: OutputFormat) async throws -> BuildRecord {
    let kind: BuildKind = full ? .full : .appOnly
    var archive: ContextArchive?
    if let context {
      do {
        archive = try ContextArchive.plan(
          directory: context, dockerfile: dockerfile ?? "Dockerfile")
      } catch {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(Exit.dataError)
      }
    }
    let ordered = try await Exit.guarding {
      try await client.createBuild(
        app,
        BuildCreateRequest(
          ref: ref, kind: kind, dockerfile: dockerfile, contextBytes: archive?.size, git: git))
    }
    let id = ordered.build.id
    if output == .table {
      let size = archive.map { ", context \(ByteCount.text($0.size))" } ?? ""
      print(
        "build \(id): \(kind.rawValue) build of \(ordered.build.ref) as \(ordered.build.reference)\(size)"
      )
    }
    if let archive {
      let digest = try await upload(archive, client: client, output: output)
      _ = try await Exit.guarding { try await client.startBuild(id, context: digest) }
    }
    var next = 0
    while true {
      let page = try await Exit.guarding { try await client.buildLog(id, from: next, wait: 10) }
      if output == .table {
        for line in page.lines { print("  \(line)") }
      }
      next = page.next
      if page.state == .succeeded || page.state == .failed, page.lines.isEmpty { break }
    }
    return try await Exit.guarding { try await client.build(id) }.build
  }

  /// Packs the context into a private temporary file and uploads it unless the store has it.
  private func upload(_ archive: ContextArchive, client: APIClient, output: OutputFormat)
    async throws -> ContentDigest
  {
    let directory = NSTemporaryDirectory() + "schedctl-build-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = "\(directory)/context.tar"
    let digest: ContentDigest
    let size: Int64
    do {
      try archive.write(to: path)
      (digest, size) = try BlobHash.digest(ofFile: path)
    } catch {
      FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
      throw ExitCode(Exit.dataError)
    }
    try await Exit.guarding {
      if try await client.missingBlobs([digest]).isEmpty {
        if output == .table { print("  the scheduler has this context already") }
        return
      }
      try await client.uploadBlob(digest, file: path, size: size)
    }
    return digest
  }

  /// Prints how a build ended; throws the exit code of a failure.
  static func report(_ build: BuildRecord, output: OutputFormat) throws {
    if output == .json { try printJSON(build) }
    if let failure = build.failure {
      var text = "error: build \(build.id) failed: \(failure.summary)\n"
      if !failure.tail.isEmpty, output == .table {
        text += "last lines of its output:\n" + failure.tail.map { "  \($0)\n" }.joined()
      }
      FileHandle.standardError.write(Data(text.utf8))
      throw ExitCode(Exit.failed)
    }
    guard output == .table else { return }
    let seconds = String(format: "%.1f", Double(build.durationMillis ?? 0) / 1000)
    print(
      "built \(build.reference) (\(build.image?.short ?? "?")) in \(seconds) s: \(build.cachedSteps ?? 0) of \(build.steps ?? 0) steps from the cache, \(build.layers?.count ?? 0) layers; deploy it with schedctl deploy \(build.app) --image \(build.reference)"
    )
  }
}
