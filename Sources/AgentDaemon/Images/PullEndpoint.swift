import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SchedModel
import ServiceLifecycle
import WireTransport

/// The registry this node's engine pulls cluster images from: the read side of the Docker
/// registry protocol (`/v2/`, manifests and blobs by digest), on loopback only, serving the
/// blobs of the images the agent is pulling and nothing else. Engines trust registries on
/// 127.0.0.0/8 without TLS by default, so no host's Docker configuration changes; each blob
/// is fetched from the scheduler and verified before the first byte of it is served.
public final class PullEndpoint: Service, Sendable {
  private let server: AsyncListener<HTTPServerRequestPart, HTTPServerResponsePart>
  public let host: String
  public let port: Int
  let cache: ImageCache
  let logger: Logger

  private init(
    server: AsyncListener<HTTPServerRequestPart, HTTPServerResponsePart>, host: String,
    port: Int, cache: ImageCache,
    logger: Logger
  ) {
    self.server = server
    self.host = host
    self.port = port
    self.cache = cache
    self.logger = logger
  }

  /// The name engines pull as: `HOST:PORT/turnout/image@DIGEST`.
  public var repository: String { "\(host):\(port)/turnout/image" }

  public static func bind(
    host: String = "127.0.0.1", port: Int = 0, cache: ImageCache, logger: Logger
  )
    async throws -> PullEndpoint
  {
    let server = try await AsyncListener<HTTPServerRequestPart, HTTPServerResponsePart>.bind(
      host: host, port: port
    ) { child in
      try child.pipeline.syncOperations.configureHTTPServerPipeline()
    }
    let bound = server.port
    return PullEndpoint(server: server, host: host, port: bound, cache: cache, logger: logger)
  }

  /// Serves until cancelled or shut down (SIGTERM reaches every service as a graceful
  /// shutdown: without this the agent waited here for ever and was killed).
  public func run() async throws {
    do {
      try await cancelWhenGracefulShutdown { try await self.serveAll() }
    } catch is CancellationError {
      return
    }
  }

  private func serveAll() async throws {
    try await server.run { _, inbound, outbound in
      var head: HTTPRequestHead?
      for try await part in inbound {
        switch part {
        case .head(let h): head = h
        case .body: continue
        case .end:
          guard let request = head else { continue }
          head = nil
          try await self.respond(to: request, outbound)
        }
      }
    }
  }

  private func respond(
    to request: HTTPRequestHead, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
  ) async throws {
    let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
    let isHead = request.method == .HEAD
    guard request.method == .GET || isHead else {
      return try await answer(outbound, .methodNotAllowed, "this registry is read-only", request)
    }
    if path == "/v2/" || path == "/v2" {
      return try await answer(outbound, .ok, "{}", request)
    }
    let parts = path.split(separator: "/")
    guard parts.count >= 4, parts[0] == "v2",
      let digest = ContentDigest(rawValue: String(parts.last!))
    else {
      return try await answer(outbound, .notFound, "Turnout serves images by digest only", request)
    }
    let kind = parts[parts.count - 2]
    guard kind == "manifests" || kind == "blobs", let size = await cache.allowedSize(digest) else {
      return try await answer(outbound, .notFound, "unknown blob \(digest.short)", request)
    }
    let file: String
    do {
      file = try await cache.ensure(digest, size: size)
    } catch {
      logger.error(
        "cannot serve blob to the engine", metadata: ["blob": "\(digest)", "error": "\(error)"])
      return try await answer(outbound, .badGateway, "\(error)", request)
    }
    var headers = HTTPHeaders()
    headers.add(name: "Docker-Distribution-API-Version", value: "registry/2.0")
    headers.add(name: "Docker-Content-Digest", value: digest.rawValue)
    headers.add(name: "Content-Length", value: "\(size)")
    headers.add(
      name: "Content-Type",
      value: kind == "manifests" ? ImageManifest.mediaType : "application/octet-stream")
    try await outbound.write(
      .head(HTTPResponseHead(version: request.version, status: .ok, headers: headers)))
    if !isHead {
      guard let handle = FileHandle(forReadingAtPath: file) else {
        throw AgentError(.image, "blob \(digest.short) vanished from the cache")
      }
      defer { try? handle.close() }
      while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: piece))))
      }
    }
    try await outbound.write(.end(nil))
  }

  private func answer(
    _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, _ status: HTTPResponseStatus,
    _ message: String, _ request: HTTPRequestHead
  ) async throws {
    let body =
      status == .ok
      ? message
      : #"{"errors":[{"code":"\#(status == .notFound ? "BLOB_UNKNOWN" : "UNKNOWN")","message":\#(Self.quoted(message))}]}"#
    var headers = HTTPHeaders()
    headers.add(name: "Docker-Distribution-API-Version", value: "registry/2.0")
    headers.add(name: "Content-Type", value: "application/json")
    headers.add(name: "Content-Length", value: "\(body.utf8.count)")
    try await outbound.write(
      .head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
    if request.method != .HEAD {
      try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
    }
    try await outbound.write(.end(nil))
  }

  static func quoted(_ text: String) -> String {
    let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
    return String(decoding: data, as: UTF8.self)
  }
}
