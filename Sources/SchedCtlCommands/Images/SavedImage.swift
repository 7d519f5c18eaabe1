import Blobs
import Foundation
import SchedModel

/// An image as `docker save` wrote it, unpacked in a directory: its config and its layers
/// (uncompressed tar, so each layer's digest is its diff id), checked against each other.
struct SavedImage {
  struct Layer {
    var path: String
    var digest: ContentDigest
    var size: Int64
  }

  var directory: String
  var configPath: String
  var config: ContentDigest
  var configSize: Int64
  var layers: [Layer]
  var repoTags: [String]

  /// One entry of the archive's `manifest.json` (the format every engine's save writes).
  struct Entry: Decodable {
    var Config: String
    var RepoTags: [String]?
    var Layers: [String]
  }

  /// The config's `rootfs.diff_ids`: what each layer's digest must be.
  struct Config: Decodable {
    struct RootFS: Decodable { var diff_ids: [String] }
    var rootfs: RootFS
  }

  /// `relative` under `directory`, refused when it would lead outside (`/x`, `../x`).
  static func inside(_ directory: String, _ relative: String) throws(PushError) -> String {
    let relative = relative.hasPrefix("./") ? String(relative.dropFirst(2)) : relative
    guard !relative.hasPrefix("/"), !relative.split(separator: "/").contains("..") else {
      throw PushError("the engine's archive names '\(relative)', outside the archive")
    }
    return "\(directory)/\(relative)"
  }

  static func read(directory: String, image: String) throws(PushError) -> SavedImage {
    func file(_ relative: String) throws(PushError) -> String {
      try inside(directory, relative)
    }
    guard let data = FileManager.default.contents(atPath: "\(directory)/manifest.json"),
      let entries = try? JSONDecoder().decode([Entry].self, from: data), let entry = entries.first
    else {
      throw PushError(
        "the engine's export of \(image) has no readable manifest.json; is the engine Docker 20.10 or later?"
      )
    }
    guard entries.count == 1 else {
      throw PushError("the engine exported \(entries.count) images for \(image); name one image")
    }
    let configPath = try file(entry.Config)
    let (config, configSize): (ContentDigest, Int64)
    do { (config, configSize) = try BlobHash.digest(ofFile: configPath) } catch {
      throw PushError("cannot read the image config \(entry.Config): \(error.message)")
    }
    guard let configData = FileManager.default.contents(atPath: configPath),
      let parsed = try? JSONDecoder().decode(Config.self, from: configData)
    else { throw PushError("the image config \(entry.Config) has no rootfs.diff_ids") }
    guard parsed.rootfs.diff_ids.count == entry.Layers.count else {
      throw PushError(
        "the image config lists \(parsed.rootfs.diff_ids.count) layers, the archive \(entry.Layers.count)"
      )
    }
    var layers: [Layer] = []
    for (relative, diffID) in zip(entry.Layers, parsed.rootfs.diff_ids) {
      let path = try file(relative)
      let (digest, size): (ContentDigest, Int64)
      do { (digest, size) = try BlobHash.digest(ofFile: path) } catch {
        throw PushError("cannot read layer \(relative): \(error.message)")
      }
      guard digest.rawValue == diffID else {
        throw PushError(
          "layer \(relative) hashes to \(digest.short), but the config says \(diffID.prefix(19)): the export is damaged or compressed; Turnout pushes uncompressed layers as engines save them"
        )
      }
      layers.append(Layer(path: path, digest: digest, size: size))
    }
    return SavedImage(
      directory: directory, configPath: configPath, config: config, configSize: configSize,
      layers: layers, repoTags: entry.RepoTags ?? [])
  }

  /// The registry manifest of this image.
  var manifest: ImageManifest {
    ImageManifest(
      config: BlobDescriptor(mediaType: ImageManifest.configType, size: configSize, digest: config),
      layers: layers.map {
        BlobDescriptor(mediaType: ImageManifest.layerType, size: $0.size, digest: $0.digest)
      })
  }
}

/// Why a push could not go on.
struct PushError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
