import ArgumentParser
import Blobs
import Foundation
import OperatorAPI
import SchedClient
import SchedModel

/// `schedctl image`: the cluster's image store.
struct ImageCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "image", abstract: "Push images into the cluster's store; list and remove them.",
    discussion: """
      The scheduler keeps images by digest and hands them to the nodes that run them: push an \
      image once, from any machine whose Docker engine has it, and every node fetches only \
      the layers its engine lacks. No registry is needed, and no change to any host's Docker.
      """,
    subcommands: [
      ImagePushCommand.self, ImageListCommand.self, ImageRemoveCommand.self,
      ImageCollectCommand.self,
    ])
}

/// `schedctl image push IMAGE`.
struct ImagePushCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "push", abstract: "Copy an image from the local Docker engine into the cluster.",
    usage: "schedctl image push <image> [--as <reference>] [--docker-socket <path>]",
    discussion: """
      Reads IMAGE from this machine's engine (docker save, through its API), uploads the \
      blobs the scheduler does not have yet (each checked against its digest on arrival) and \
      names the image, so `schedctl deploy APP --image IMAGE` runs it on any node. Pushing \
      the same reference again moves it to the new image; the scheduler keeps what any set \
      still runs and the newest pushes of each repository (schedd --keep-images).

      Example: docker build -t web:2 . && schedctl image push web:2 && schedctl deploy web --image web:2
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The image in the local engine, like web:2.")
  var image: String

  @Option(name: .customLong("as"), help: "The reference to push it as (default: IMAGE).")
  var reference: String?

  @Option(help: "The local engine's socket (default: $DOCKER_HOST, else /var/run/docker.sock).")
  var dockerSocket: String?

  func validate() throws {
    let name = reference ?? image
    if name.hasPrefix("sha256:") {
      throw ValidationError("name the image it is pushed as: --as web:2")
    }
    if let problem = ImageReference.problem(name) { throw ValidationError(problem) }
  }

  func run() async throws {
    let client = try global.client(timeout: .seconds(60))
    let name = reference ?? image
    let started = ContinuousClock.now
    let directory = NSTemporaryDirectory() + "schedctl-push-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true,
      attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let saved: SavedImage
    do {
      let engine = LocalEngine(socketPath: LocalEngine.socket(dockerSocket))
      let digests = try await engine.export(image, into: directory)
      saved = try SavedImage.read(directory: directory, image: image, digests: digests)
    } catch let error as PushError {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(Exit.dataError)
    } catch let error as BlobError {
      FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
      throw ExitCode(Exit.dataError)
    }
    let manifest = saved.manifest
    let manifestBytes = manifest.encoded()
    let manifestDigest = BlobHash.digest(of: manifestBytes)
    let manifestPath = "\(directory)/turnout-manifest.json"
    FileManager.default.createFile(atPath: manifestPath, contents: Data(manifestBytes))
    var files: [ContentDigest: (path: String, size: Int64)] = [
      saved.config: (saved.configPath, saved.configSize),
      manifestDigest: (manifestPath, Int64(manifestBytes.count)),
    ]
    for layer in saved.layers { files[layer.digest] = (layer.path, layer.size) }
    if global.output == .table {
      print(
        "read \(image) from the local engine: \(saved.layers.count) layer(s), \(ByteCount.text(manifest.size))"
      )
    }
    let view = try await Exit.guarding {
      let missing = try await client.missingBlobs(files.keys.sorted())
      let toSend = missing.reduce(Int64(0)) { $0 + (files[$1]?.size ?? 0) }
      if global.output == .table {
        print(
          "uploading \(missing.count) of \(files.count) blob(s), \(ByteCount.text(toSend)) (the scheduler has the rest)"
        )
      }
      // The manifest last: the scheduler names nothing until every blob it lists is there.
      for digest in missing.sorted(by: { a, b in a != manifestDigest && b == manifestDigest }) {
        guard let file = files[digest] else { continue }
        try await client.uploadBlob(digest, file: file.path, size: file.size)
      }
      return try await client.tagImage(name, manifest: manifestDigest)
    }
    if global.output == .json { return try printJSON(view) }
    let took = ContinuousClock.now - started
    print(
      "pushed \(name) (\(view.image.config.short), manifest \(view.image.manifest.short)) in \(String(format: "%.1f", Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)) s"
    )
  }
}

/// `schedctl image ls`.
struct ImageListCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ls", abstract: "List the images in the cluster's store, and who holds them.",
    usage: "schedctl image ls [<global options>]")

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let images = try await Exit.guarding { try await client.images() }
    if global.output == .json { return try printJSON(images) }
    guard !images.isEmpty else {
      print("no images in the cluster's store; push one with schedctl image push IMAGE")
      return
    }
    var table = Table("IMAGE", "ID", "LAYERS", "SIZE", "PUSHED", "SETS", "NODES")
    for view in images {
      let image = view.image
      table.add(
        image.reference, image.config.short, "\(image.layers)", ByteCount.text(image.size),
        image.pushedAt.formatted(.iso8601),
        view.sets.isEmpty ? "-" : view.sets.joined(separator: ","),
        view.nodes.isEmpty ? "-" : view.nodes.joined(separator: ","))
    }
    print(table.render())
  }
}

/// `schedctl image rm REFERENCE`.
struct ImageRemoveCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rm", abstract: "Forget an image no set runs; its unused blobs go at the next gc.",
    usage: "schedctl image rm <reference> [<global options>]")

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The image's reference, like web:2.")
  var reference: String

  func run() async throws {
    let client = try global.client()
    try await Exit.guarding { try await client.removeImage(reference) }
    if global.output == .table { print("removed \(reference) from the cluster's store") }
  }
}

/// `schedctl image gc`.
struct ImageCollectCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gc",
    abstract: "Drop images no set runs beyond each repository's newest, and unused blobs.",
    usage: "schedctl image gc [<global options>]",
    discussion: """
      Runs after every push and every 10 minutes too. Kept: every image a set runs (the warm previous set's \
      included) and each repository's newest pushes (schedd --keep-images, 3 by default); \
      blobs uploaded in the last hour are never removed (a push may be under way).
      """)

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let collected = try await Exit.guarding { try await client.collectImages() }
    if global.output == .json { return try printJSON(collected) }
    print(
      "removed \(collected.images.count) image(s)\(collected.images.isEmpty ? "" : " (\(collected.images.joined(separator: ", ")))"), \(collected.blobs) blob(s), \(ByteCount.text(collected.bytes))"
    )
  }
}
