import Foundation
import SchedModel

/// `POST /v1/images/blobs/missing`: which of these blobs must a push still upload.
public struct MissingBlobsRequest: Codable, Sendable, Equatable {
  public var digests: [ContentDigest]
  public init(digests: [ContentDigest]) { self.digests = digests }
}

public struct MissingBlobsResponse: Codable, Sendable, Equatable {
  public var missing: [ContentDigest]
  public init(missing: [ContentDigest]) { self.missing = missing }
}

/// `PUT /v1/images`: point a reference at a manifest whose blobs are all uploaded.
public struct ImageTagRequest: Codable, Sendable, Equatable {
  public var reference: String
  public var manifest: ContentDigest
  public init(reference: String, manifest: ContentDigest) {
    self.reference = reference
    self.manifest = manifest
  }
}

/// An image of the store as operators see it: the record, the sets that run it and the
/// nodes that hold it (running it, or having fetched it).
public struct ImageView: Codable, Sendable, Equatable {
  public var image: StoredImage
  /// `app/color` of each set whose image this is.
  public var sets: [String]
  public var nodes: [String]

  public init(image: StoredImage, sets: [String], nodes: [String]) {
    self.image = image
    self.sets = sets
    self.nodes = nodes
  }
}

public struct ImagesResponse: Codable, Sendable, Equatable {
  public var images: [ImageView]
  public init(images: [ImageView]) { self.images = images }
}

/// What `POST /v1/images/gc` removed.
public struct ImageCollectResponse: Codable, Sendable, Equatable {
  public var images: [String]
  public var blobs: Int
  public var bytes: Int64

  public init(images: [String], blobs: Int, bytes: Int64) {
    self.images = images
    self.blobs = blobs
    self.bytes = bytes
  }
}

/// `PUT /v1/registries/HOST`: credentials the nodes pull that registry's images with.
public struct RegistryLoginRequest: Codable, Sendable, Equatable {
  public var username: String
  public var password: String
  public init(username: String, password: String) {
    self.username = username
    self.password = password
  }
}

/// A registry the scheduler holds credentials for (never the password).
public struct RegistryView: Codable, Sendable, Equatable {
  public var registry: String
  public var username: String
  public init(registry: String, username: String) {
    self.registry = registry
    self.username = username
  }
}

public struct RegistriesResponse: Codable, Sendable, Equatable {
  public var registries: [RegistryView]
  public init(registries: [RegistryView]) { self.registries = registries }
}
