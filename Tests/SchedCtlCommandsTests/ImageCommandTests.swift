import ArgumentParser
import Blobs
import Foundation
import OperatorAPI
import SchedModel
import Testing

@testable import SchedCtlCommands

@Suite("schedctl image and node join-command")
struct ImageCommandTests {
  /// A directory laid out as `docker save` writes it, for `SavedImage.read`.
  func saved(layers: [[UInt8]], diffIDs: [String]? = nil) throws -> String {
    let dir = NSTemporaryDirectory() + "saved-\(UInt64.random(in: 0...UInt64.max))"
    var paths: [String] = []
    for (index, layer) in layers.enumerated() {
      try FileManager.default.createDirectory(
        atPath: "\(dir)/l\(index)", withIntermediateDirectories: true)
      FileManager.default.createFile(atPath: "\(dir)/l\(index)/layer.tar", contents: Data(layer))
      paths.append("l\(index)/layer.tar")
    }
    let ids = diffIDs ?? layers.map { BlobHash.digest(of: $0).rawValue }
    let config = #"{"rootfs":{"type":"layers","diff_ids":["\#(ids.joined(separator: #"",""#))"]}}"#
    FileManager.default.createFile(atPath: "\(dir)/config.json", contents: Data(config.utf8))
    let manifest =
      #"[{"Config":"config.json","RepoTags":["web:2"],"Layers":["\#(paths.joined(separator: #"",""#))"]}]"#
    FileManager.default.createFile(atPath: "\(dir)/manifest.json", contents: Data(manifest.utf8))
    return dir
  }

  @Test("a saved image becomes a manifest whose layers are named by their diff ids")
  func savedImageToManifest() throws {
    let layers: [[UInt8]] = [Array(repeating: 1, count: 3000), Array(repeating: 2, count: 10)]
    let dir = try saved(layers: layers)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let image = try SavedImage.read(directory: dir, image: "web:2")
    let manifest = image.manifest
    #expect(manifest.layers.map(\.digest) == layers.map { BlobHash.digest(of: $0) })
    #expect(manifest.layers.map(\.size) == [3000, 10])
    #expect(manifest.config.digest == image.config)
    #expect(image.repoTags == ["web:2"])
    #expect(try ImageManifest.decode(manifest.encoded()) == manifest)
  }

  @Test("a layer that does not hash to its diff id stops the push with the reason")
  func damagedLayerRefused() throws {
    let dir = try saved(
      layers: [[1, 2, 3]], diffIDs: [BlobHash.digest(of: [9]).rawValue])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    do {
      _ = try SavedImage.read(directory: dir, image: "web:2")
      Issue.record("a damaged export was read")
    } catch {
      #expect(error.description.contains("damaged or compressed"))
    }
  }

  @Test("an archive naming a path outside itself is refused")
  func escapingPathRefused() throws {
    let dir = try saved(layers: [[1]])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    FileManager.default.createFile(
      atPath: "\(dir)/manifest.json",
      contents: Data(#"[{"Config":"../../etc/passwd","Layers":["l0/layer.tar"]}]"#.utf8))
    #expect(throws: BlobError.self) { try SavedImage.read(directory: dir, image: "web:2") }
  }

  @Test("push needs a name for an image given by id")
  func pushOfAnIDNeedsAName() throws {
    #expect(throws: (any Error).self) {
      _ = try ImagePushCommand.parse(["sha256:" + String(repeating: "a", count: 64)])
    }
    #expect(throws: (any Error).self) { _ = try ImagePushCommand.parse(["Web:2"]) }
    let named = try ImagePushCommand.parse([
      "sha256:" + String(repeating: "a", count: 64), "--as", "web:2",
    ])
    #expect(named.reference == "web:2")
  }

  @Test("the join command writes the agent's config with the token and starts the unit")
  func joinCommandScript() {
    let script = JoinCommandCommand.script(
      scheduler: "203.0.113.5:7100", token: "s3cret", name: "web-2", advertise: "198.51.100.7",
      labels: "zone=home")
    #expect(script.contains("TURNOUT_SCHEDULER=203.0.113.5:7100\n"))
    #expect(script.contains("TURNOUT_JOIN_TOKEN=s3cret\n"))
    #expect(script.contains("TURNOUT_ADVERTISE=198.51.100.7\n"))
    #expect(script.contains("TURNOUT_NODE_NAME=web-2\n"))
    #expect(script.contains("TURNOUT_LABELS=zone=home\n"))
    #expect(script.contains("umask 077"))
    #expect(script.contains("systemctl enable --now sched-agent"))
    #expect(!script.contains("ADDRESS"))
    let unfilled = JoinCommandCommand.script(
      scheduler: "203.0.113.5:7100", token: "s3cret", name: nil, advertise: nil, labels: nil)
    #expect(unfilled.contains("TURNOUT_ADVERTISE=ADDRESS"))
    #expect(unfilled.contains("Replace ADDRESS"))
  }

  @Test("deploy shows a node's fetch: what moved, and that the engine held the rest")
  func pullLines() {
    let manifest = ContentDigest(rawValue: "sha256:" + String(repeating: "ab", count: 32))!
    var pull = ImagePull(
      reference: "web:2", manifest: manifest, state: .pulling, layers: 4, layersFetched: 1,
      bytesToFetch: 2 << 20, bytesFetched: 1 << 20)
    #expect(
      DeployCommand.describe(pull)
        == "fetching web:2 from the cluster's store: 1 of 4 layer(s) under way, 1.0 MiB of 2.0 MiB")
    pull.state = .done
    pull.bytesFetched = 2 << 20
    #expect(
      DeployCommand.describe(pull)
        == "has web:2: 1 of 4 layer(s) fetched (2.0 MiB of 2.0 MiB), the engine held the rest")
    pull.state = .failed
    pull.message = "blob failed its digest check"
    #expect(DeployCommand.describe(pull) == "could not get web:2: blob failed its digest check")
  }
}
