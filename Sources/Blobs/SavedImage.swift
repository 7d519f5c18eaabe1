import Crypto
import Foundation
import NIOCore
import SchedModel

/// An image as `docker save` wrote it, unpacked in a directory: its config and its layers
/// (uncompressed tar, so each layer's digest is its diff id), checked against each other.
public struct SavedImage: Sendable {
  public struct Layer: Sendable {
    public var path: String
    public var digest: ContentDigest
    public var size: Int64
  }

  public var directory: String
  public var configPath: String
  public var config: ContentDigest
  public var configSize: Int64
  public var layers: [Layer]
  public var repoTags: [String]

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
  public static func inside(_ directory: String, _ relative: String) throws(BlobError) -> String {
    let relative = relative.hasPrefix("./") ? String(relative.dropFirst(2)) : relative
    guard !relative.hasPrefix("/"), !relative.split(separator: "/").contains("..") else {
      throw BlobError(.invalid, "the engine's archive names '\(relative)', outside the archive")
    }
    return "\(directory)/\(relative)"
  }

  /// Reads and checks the export in `directory`. `digests` are those the unpacker took as
  /// the files streamed in (by path); a file without one is hashed here.
  public static func read(
    directory: String, image: String, digests: [String: (ContentDigest, Int64)] = [:]
  ) throws(BlobError) -> SavedImage {
    func file(_ relative: String) throws(BlobError) -> String {
      try inside(directory, relative)
    }
    func hash(_ path: String) throws(BlobError) -> (ContentDigest, Int64) {
      if let known = digests[path] { return known }
      return try BlobHash.digest(ofFile: path)
    }
    guard let data = FileManager.default.contents(atPath: "\(directory)/manifest.json"),
      let entries = try? JSONDecoder().decode([Entry].self, from: data), let entry = entries.first
    else {
      throw BlobError(
        .invalid,
        "the engine's export of \(image) has no readable manifest.json; is the engine Docker 20.10 or later?"
      )
    }
    guard entries.count == 1 else {
      throw BlobError(
        .invalid, "the engine exported \(entries.count) images for \(image); name one image")
    }
    let configPath = try file(entry.Config)
    let (config, configSize): (ContentDigest, Int64)
    do { (config, configSize) = try hash(configPath) } catch {
      throw BlobError(.invalid, "cannot read the image config \(entry.Config): \(error.message)")
    }
    guard let configData = FileManager.default.contents(atPath: configPath),
      let parsed = try? JSONDecoder().decode(Config.self, from: configData)
    else { throw BlobError(.invalid, "the image config \(entry.Config) has no rootfs.diff_ids") }
    guard parsed.rootfs.diff_ids.count == entry.Layers.count else {
      throw BlobError(
        .invalid,
        "the image config lists \(parsed.rootfs.diff_ids.count) layers, the archive \(entry.Layers.count)"
      )
    }
    var layers: [Layer] = []
    for (relative, diffID) in zip(entry.Layers, parsed.rootfs.diff_ids) {
      let path = try file(relative)
      let (digest, size): (ContentDigest, Int64)
      do { (digest, size) = try hash(path) } catch {
        throw BlobError(.invalid, "cannot read layer \(relative): \(error.message)")
      }
      guard digest.rawValue == diffID else {
        throw BlobError(
          .invalid,
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
  public var manifest: ImageManifest {
    ImageManifest(
      config: BlobDescriptor(mediaType: ImageManifest.configType, size: configSize, digest: config),
      layers: layers.map {
        BlobDescriptor(mediaType: ImageManifest.layerType, size: $0.size, digest: $0.digest)
      })
  }
}

/// Unpacks an image export (`docker save`'s tar) into a directory as it streams in.
extension SavedImage {
  public struct Unpacker {
    let directory: String
    var reader = TarReader()
    var current: (path: String, handle: FileHandle, hasher: SHA256, size: Int64)?
    /// Each file's digest and size, taken as it was written (one pass, no second read).
    public private(set) var digests: [String: (ContentDigest, Int64)] = [:]

    public init(directory: String) { self.directory = directory }

    /// Takes the next piece of the export.
    public mutating func feed(_ piece: ByteBuffer) throws(BlobError) {
      let events: [TarReader.Event]
      do { events = try reader.feed(piece) } catch {
        throw BlobError(.invalid, "the engine's export is not a readable tar: \(error)")
      }
      for event in events {
        switch event {
        case .begin(let entry):
          guard entry.kind == .file else { continue }
          let path = try SavedImage.inside(directory, entry.name)
          try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
          guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
          else { throw BlobError(.io, "cannot write \(path); is there room in \(directory)?") }
          current = (path, handle, SHA256(), 0)
        case .bytes(let bytes):
          guard var file = current else { continue }
          do {
            try bytes.withUnsafeReadableBytes { raw in
              file.hasher.update(bufferPointer: raw)
              try file.handle.write(contentsOf: raw)
            }
          } catch {
            throw BlobError(.io, "cannot write the export into \(directory): \(error)")
          }
          file.size += Int64(bytes.readableBytes)
          current = file
        case .end:
          if let file = current {
            try? file.handle.close()
            digests[file.path] = (
              ContentDigest(rawValue: "sha256:" + BlobHash.hex(file.hasher.finalize()))!, file.size
            )
          }
          current = nil
        }
      }
    }

    /// Closes what is open (after the last piece, or when the export broke off).
    public mutating func finish() {
      try? current?.handle.close()
      current = nil
    }
  }
}
