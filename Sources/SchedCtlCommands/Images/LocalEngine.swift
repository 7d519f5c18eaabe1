import AsyncHTTPClient
import Blobs
import Foundation
import NIOCore
import SchedModel

/// The Docker engine on the operator's machine, read once per push: `GET /images/NAME/get`
/// streams the image as a tar, unpacked here as it arrives into a private directory.
struct LocalEngine {
  let socketPath: String

  /// The socket from `DOCKER_HOST` (unix:// only), else Docker's default.
  static func socket(_ flag: String?) -> String {
    if let flag { return flag.hasPrefix("unix://") ? String(flag.dropFirst(7)) : flag }
    if let host = ProcessInfo.processInfo.environment["DOCKER_HOST"], host.hasPrefix("unix://") {
      return String(host.dropFirst(7))
    }
    return "/var/run/docker.sock"
  }

  /// Exports `image` into `directory`; returns each file's digest and size, taken as it was
  /// written.
  func export(_ image: String, into directory: String) async throws
    -> [String: (ContentDigest, Int64)]
  {
    let name =
      image.addingPercentEncoding(
        withAllowedCharacters: .alphanumerics.union(["-", "_", ".", ":", "@"])) ?? image
    let socket =
      socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath
    var request = HTTPClientRequest(url: "http+unix://\(socket)/images/\(name)/get")
    request.headers.replaceOrAdd(name: "Host", value: "docker")
    let response: HTTPClientResponse
    do {
      response = try await HTTPClient.shared.execute(request, timeout: .seconds(3600))
    } catch {
      throw PushError(
        "cannot reach the Docker engine at \(socketPath) (\(error)); is dockerd running here? Point at another with --docker-socket or DOCKER_HOST=unix://PATH"
      )
    }
    guard response.status == .ok else {
      let body = try? await response.body.collect(upTo: 1 << 16)
      let text = body.map { String(buffer: $0) } ?? ""
      throw PushError(
        response.status == .notFound
          ? "the local engine has no image \(image); build it (docker build -t \(image) .) or pull it first"
          : "the engine refused to export \(image): HTTP \(response.status.code) \(text.prefix(300))"
      )
    }
    var unpacker = SavedImage.Unpacker(directory: directory)
    defer { unpacker.finish() }
    do {
      for try await piece in response.body { try unpacker.feed(piece) }
    } catch let error as BlobError {
      throw PushError("the export of \(image): \(error.message)")
    }
    return unpacker.digests
  }
}

/// Why a push could not go on.
struct PushError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
