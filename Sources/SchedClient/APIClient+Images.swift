import AsyncHTTPClient
import Foundation
import NIOCore
import OperatorAPI
import SchedModel

/// The image store's calls: what a push sends, and what `schedctl image` lists and removes.
extension APIClient {
  public func missingBlobs(_ digests: [ContentDigest]) async throws(ClientError) -> [ContentDigest]
  {
    try await send(
      .POST, "/v1/images/blobs/missing", body: MissingBlobsRequest(digests: digests),
      as: MissingBlobsResponse.self
    ).missing
  }

  /// Uploads a file as blob `digest`, streamed in 1 MiB pieces; the scheduler checks the
  /// digest before it keeps anything.
  public func uploadBlob(_ digest: ContentDigest, file path: String, size: Int64)
    async throws(ClientError)
  {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw ClientError(.badRequest, "cannot read \(path)")
    }
    let pieces = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
      DispatchQueue.global().async {
        defer { try? handle.close() }
        do {
          while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {
            continuation.yield(ByteBuffer(bytes: piece))
          }
          continuation.finish()
        } catch {
          continuation.finish(throwing: error)
        }
      }
    }
    _ = try await execute(
      .PUT, "/v1/images/blobs/\(digest.rawValue)", body: .stream(pieces, length: .known(size)),
      contentType: "application/octet-stream", timeout: .seconds(3600),
      as: [String: String].self)
  }

  public func tagImage(_ reference: String, manifest: ContentDigest) async throws(ClientError)
    -> ImageView
  {
    try await send(
      .PUT, "/v1/images", body: ImageTagRequest(reference: reference, manifest: manifest),
      as: ImageView.self)
  }

  public func images() async throws(ClientError) -> [ImageView] {
    try await get("/v1/images", as: ImagesResponse.self).images
  }

  public func removeImage(_ reference: String) async throws(ClientError) {
    let query =
      reference.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-", "_", "."]))
      ?? reference
    _ = try await send(
      .DELETE, "/v1/images?reference=\(query)", body: Optional<String>.none,
      as: [String: String].self)
  }

  public func collectImages() async throws(ClientError) -> ImageCollectResponse {
    try await send(
      .POST, "/v1/images/gc", body: [String: String](), as: ImageCollectResponse.self)
  }
}

/// Registry credentials the scheduler holds for nodes.
extension APIClient {
  public func registries() async throws(ClientError) -> [RegistryView] {
    try await get("/v1/registries", as: RegistriesResponse.self).registries
  }

  public func registryLogin(_ registry: String, username: String, password: String)
    async throws(ClientError) -> RegistryView
  {
    try await send(
      .PUT, "/v1/registries/\(registry)",
      body: RegistryLoginRequest(username: username, password: password), as: RegistryView.self)
  }

  public func registryLogout(_ registry: String) async throws(ClientError) {
    _ = try await send(
      .DELETE, "/v1/registries/\(registry)", body: Optional<String>.none,
      as: [String: String].self)
  }
}
