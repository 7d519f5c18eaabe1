import Foundation

/// The name of a blob: `sha256:` and 64 lower-case hex digits, the hash of its bytes. Layers,
/// image configs and manifests are all kept and moved by digest, so a byte that changed on
/// the way is a blob that does not match its name.
public struct ContentDigest: RawRepresentable, Codable, Hashable, Sendable, Comparable,
  CustomStringConvertible
{
  public let rawValue: String

  public init?(rawValue: String) {
    guard rawValue.hasPrefix("sha256:") else { return nil }
    let hex = rawValue.utf8.dropFirst(7)
    guard hex.count == 64,
      hex.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    else { return nil }
    self.rawValue = rawValue
  }

  /// A digest from a peer or an operator, with what is wrong with it.
  public static func parse(_ text: String) throws(ModelError) -> ContentDigest {
    guard let digest = ContentDigest(rawValue: text) else {
      throw ModelError(
        .invalidImage,
        "'\(text.prefix(80))' is not a digest: sha256: and 64 lower-case hex digits are expected")
    }
    return digest
  }

  /// The 64 hex digits, the blob's file name in a store.
  public var hex: Substring { rawValue.dropFirst(7) }
  public var short: String { String(rawValue.prefix(19)) }
  public var description: String { rawValue }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let digest = ContentDigest(rawValue: text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a sha256 digest"))
    }
    self = digest
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(rawValue)
  }

  public static func < (lhs: ContentDigest, rhs: ContentDigest) -> Bool {
    lhs.rawValue < rhs.rawValue
  }
}

/// A blob as a manifest names it: what it is, how long, and its digest.
public struct BlobDescriptor: Codable, Hashable, Sendable {
  public var mediaType: String
  public var size: Int64
  public var digest: ContentDigest

  public init(mediaType: String, size: Int64, digest: ContentDigest) {
    self.mediaType = mediaType
    self.size = size
    self.digest = digest
  }
}

/// An image as the Docker registry protocol describes it (image manifest, schema 2): its config
/// blob and its layers in order. Layers are kept as the engine exports them, uncompressed tar,
/// so a layer's digest is also its diff id.
public struct ImageManifest: Codable, Hashable, Sendable {
  public static let mediaType = "application/vnd.docker.distribution.manifest.v2+json"
  public static let configType = "application/vnd.docker.container.image.v1+json"
  public static let layerType = "application/vnd.docker.image.rootfs.diff.tar"
  /// A manifest larger than this is refused (real ones are a few kilobytes).
  public static let maxBytes = 4 << 20

  public var schemaVersion: Int
  public var mediaType: String
  public var config: BlobDescriptor
  public var layers: [BlobDescriptor]

  public init(config: BlobDescriptor, layers: [BlobDescriptor]) {
    schemaVersion = 2
    mediaType = Self.mediaType
    self.config = config
    self.layers = layers
  }

  /// The bytes that are stored and served; the manifest's digest is theirs.
  public func encoded() -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // Every field is a string, a number or an array of those: encoding cannot fail.
    return Array((try? encoder.encode(self)) ?? Data())
  }

  /// A manifest read from a blob, checked for what Turnout serves.
  public static func decode(_ bytes: some Collection<UInt8>) throws(ModelError) -> ImageManifest {
    guard bytes.count <= maxBytes else {
      throw ModelError(.invalidImage, "a manifest of \(bytes.count) bytes is too large")
    }
    let manifest: ImageManifest
    do { manifest = try JSONDecoder().decode(ImageManifest.self, from: Data(bytes)) } catch {
      throw ModelError(.invalidImage, "not an image manifest (schema 2): \(error)")
    }
    guard manifest.schemaVersion == 2, manifest.mediaType == mediaType else {
      throw ModelError(
        .invalidImage,
        "manifest schema \(manifest.schemaVersion) of type \(manifest.mediaType) is not served; schema 2 (\(mediaType)) is"
      )
    }
    guard !manifest.layers.isEmpty else {
      throw ModelError(.invalidImage, "the manifest has no layers")
    }
    guard manifest.blobs.allSatisfy({ $0.size >= 0 }) else {
      throw ModelError(.invalidImage, "the manifest gives a negative blob size")
    }
    return manifest
  }

  /// The config and every layer.
  public var blobs: [BlobDescriptor] { [config] + layers }
  /// What the image weighs as blobs.
  public var size: Int64 { blobs.reduce(0) { $0 + $1.size } }
}

/// Where a node gets the image of a slot from the cluster's image store: the reference the
/// slot names, the manifest to fetch, and the config digest (the image id an engine shows),
/// by which an engine that already holds the image is known.
public struct ImageSource: Codable, Hashable, Sendable {
  public var reference: String
  public var manifest: ContentDigest
  public var config: ContentDigest
  /// The config's and the layers' bytes together.
  public var size: Int64

  public init(reference: String, manifest: ContentDigest, config: ContentDigest, size: Int64) {
    self.reference = reference
    self.manifest = manifest
    self.config = config
    self.size = size
  }
}

/// How far a node got fetching the blobs of one image from the store, as it reports it.
public struct ImagePull: Codable, Hashable, Sendable {
  public enum State: String, Codable, Sendable {
    case pulling
    /// The engine holds the image.
    case done
    case failed
  }

  public var reference: String
  public var manifest: ContentDigest
  public var state: State
  /// Layers in the image, and those this node had to fetch (the engine already held the rest).
  public var layers: Int
  public var layersFetched: Int
  /// Bytes of the layers being fetched, and bytes moved so far.
  public var bytesToFetch: Int64
  public var bytesFetched: Int64
  /// Why it failed, when it did.
  public var message: String?

  public init(
    reference: String, manifest: ContentDigest, state: State, layers: Int, layersFetched: Int = 0,
    bytesToFetch: Int64 = 0, bytesFetched: Int64 = 0, message: String? = nil
  ) {
    self.reference = reference
    self.manifest = manifest
    self.state = state
    self.layers = layers
    self.layersFetched = layersFetched
    self.bytesToFetch = bytesToFetch
    self.bytesFetched = bytesFetched
    self.message = message
  }

  enum CodingKeys: String, CodingKey {
    case reference, manifest, state, layers, message
    case layersFetched = "layers_fetched"
    case bytesToFetch = "bytes_to_fetch"
    case bytesFetched = "bytes_fetched"
  }
}

/// An image the cluster's store holds under a reference (`web:2`): its manifest and what it
/// weighs, with who pushed it and when.
public struct StoredImage: Codable, Hashable, Sendable {
  public var reference: String
  public var manifest: ContentDigest
  public var config: ContentDigest
  public var layers: Int
  public var size: Int64
  public var pushedAt: Date
  public var pushedBy: String

  public init(
    reference: String, manifest: ContentDigest, config: ContentDigest, layers: Int, size: Int64,
    pushedAt: Date, pushedBy: String
  ) {
    self.reference = reference
    self.manifest = manifest
    self.config = config
    self.layers = layers
    self.size = size
    self.pushedAt = pushedAt
    self.pushedBy = pushedBy
  }

  enum CodingKeys: String, CodingKey {
    case reference, manifest, config, layers, size
    case pushedAt = "pushed_at"
    case pushedBy = "pushed_by"
  }

  public var source: ImageSource {
    ImageSource(reference: reference, manifest: manifest, config: config, size: size)
  }

  /// The repository: the reference without its tag or digest (`web` of `web:2`).
  public var repository: String { Self.repository(of: reference) }

  public static func repository(of reference: String) -> String {
    var name = Substring(reference)
    if let at = name.firstIndex(of: "@") { name = name[..<at] }
    if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = name[..<colon] }
    return String(name)
  }
}

/// Credentials for a registry (`registry.example.com`, `10.0.0.5:5000`), held by the scheduler
/// and handed to the agents whose slots pull from it; never logged, never listed back.
public struct RegistryCredential: Codable, Hashable, Sendable, CustomStringConvertible {
  public var registry: String
  public var username: String
  public var password: String

  public init(registry: String, username: String, password: String) {
    self.registry = registry
    self.username = username
    self.password = password
  }

  /// Without the password, for anything printed.
  public var description: String { "\(username)@\(registry)" }
}

extension ImageReference {
  /// The registry an image reference names (`10.0.0.5:5000` of `10.0.0.5:5000/web:2`); nil
  /// for Docker Hub's short names (`web:2`, `library/nginx`).
  public static func registry(of reference: String) -> String? {
    let parts = reference.split(separator: "/", maxSplits: 1)
    guard parts.count == 2 else { return nil }
    let first = parts[0]
    guard first.contains(".") || first.contains(":") || first == "localhost" else { return nil }
    return String(first)
  }
}
