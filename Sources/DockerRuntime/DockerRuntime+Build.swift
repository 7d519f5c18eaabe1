import AgentCore
import AsyncHTTPClient
import Blobs
import Foundation
import NIOCore
import SchedModel

/// Builds and exports through the Engine API: `POST /build` with the context tar as the
/// body and the progress read as it streams; `GET /images/NAME/get` unpacked as it streams.
extension DockerRuntime: ImageBuilder {
  public func build(
    contextPath: String, options: EngineBuildOptions,
    progress: @escaping @Sendable (BuildProgress) async -> Void
  ) async throws(RuntimeError) {
    guard let size = Self.fileSize(contextPath),
      let handle = FileHandle(forReadingAtPath: contextPath)
    else { throw RuntimeError(.invalid, "cannot read the build context \(contextPath)") }
    let labels =
      (try? JSONEncoder().encode(options.labels)).map { String(decoding: $0, as: UTF8.self) }
      ?? "{}"
    var query = [
      "dockerfile=\(Self.queryValue(options.dockerfile))", "t=\(Self.queryValue(options.tag))",
      "labels=\(Self.queryValue(labels))", "rm=1", "forcerm=1",
      "memory=\(options.memoryBytes)", "cpuperiod=100000",
      "cpuquota=\(max(1000, options.cpuMillis * 100))",
    ]
    // The base images were refreshed (where their registries answer) before a full build; the
    // engine's own pull=1 would fail the build for a base that only this cluster holds.
    if options.full { query += ["nocache=1"] }
    let version = try await negotiated()
    var request = HTTPClientRequest(url: url("/v\(version)/build?\(query.joined(separator: "&"))"))
    request.method = .POST
    request.headers.replaceOrAdd(name: "Host", value: "docker")
    request.headers.replaceOrAdd(name: "Content-Type", value: "application/x-tar")
    request.body = .stream(Self.pieces(of: handle), length: .known(size))
    let response: HTTPClientResponse
    do {
      response = try await http.execute(request, timeout: .hours(24))
    } catch {
      throw RuntimeError(
        .unavailable, "the Docker Engine at \(socketPath) did not take the build: \(error)")
    }
    guard response.status == .ok else {
      let body = (try? await response.body.collect(upTo: 1 << 16)).map {
        Data($0.readableBytesView)
      }
      throw failure(Int(response.status.code), body ?? Data(), "build \(options.tag)")
    }
    var pending = ByteBuffer()
    do {
      for try await var piece in response.body {
        pending.writeBuffer(&piece)
        while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
          let line = pending.readSlice(length: newline - pending.readerIndex)!
          pending.moveReaderIndex(forwardBy: 1)
          guard line.readableBytes > 0 else { continue }
          if let message = try? JSONDecoder().decode(
            BuildProgress.self, from: Data(line.readableBytesView))
          {
            await progress(message)
          }
        }
      }
    } catch is CancellationError {
      throw RuntimeError(.failed, "the build was stopped")
    } catch {
      throw RuntimeError(.unavailable, "the build's progress stream broke off: \(error)")
    }
  }

  public func exportImage(_ image: String, into directory: String) async throws(RuntimeError)
    -> [String: (ContentDigest, Int64)]
  {
    let version = try await negotiated()
    var request = HTTPClientRequest(url: url("/v\(version)/images/\(Self.encoded(image))/get"))
    request.headers.replaceOrAdd(name: "Host", value: "docker")
    let response: HTTPClientResponse
    do { response = try await http.execute(request, timeout: .hours(1)) } catch {
      throw RuntimeError(.unavailable, "cannot export \(image) from the engine: \(error)")
    }
    guard response.status == .ok else {
      let body = (try? await response.body.collect(upTo: 1 << 16)).map {
        Data($0.readableBytesView)
      }
      throw failure(Int(response.status.code), body ?? Data(), "export \(image)")
    }
    var unpacker = SavedImage.Unpacker(directory: directory)
    defer { unpacker.finish() }
    do {
      for try await piece in response.body { try unpacker.feed(piece) }
    } catch let error as BlobError {
      throw RuntimeError(.failed, "the export of \(image): \(error.message)")
    } catch {
      throw RuntimeError(.unavailable, "the export of \(image) broke off: \(error)")
    }
    return unpacker.digests
  }

  private func url(_ path: String) -> String {
    let socket =
      socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath
    return "http+unix://\(socket)\(path)"
  }

  static func fileSize(_ path: String) -> Int64? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
  }

  /// A file in 1 MiB pieces, each read when the request asks for it (no read-ahead).
  static func pieces(of handle: FileHandle) -> AsyncThrowingStream<ByteBuffer, any Error> {
    AsyncThrowingStream(unfolding: {
      guard let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty else {
        try? handle.close()
        return nil
      }
      return ByteBuffer(bytes: piece)
    })
  }
}

extension DockerRuntime {
  private struct SystemDF: Decodable {
    struct Image: Decodable {
      var Id: String
      var Created: Int64
      var Size: Int64
      var SharedSize: Int64?
      var Containers: Int?
      var Labels: [String: String]?
    }
    var LayersSize: Int64?
    var Images: [Image]?
  }

  public func diskUsage() async throws(RuntimeError) -> EngineDiskUsage {
    let (status, body) = try await request(.GET, "/system/df?type=image", timeout: .seconds(120))
    guard status == 200 else { throw failure(status, body, "read its disk usage") }
    let df: SystemDF
    do { df = try JSONDecoder().decode(SystemDF.self, from: body) } catch {
      throw RuntimeError(.failed, "unexpected answer from the Docker Engine's /system/df: \(error)")
    }
    return EngineDiskUsage(
      layersBytes: df.LayersSize ?? 0,
      images: (df.Images ?? []).map {
        EngineImage(
          id: $0.Id, created: $0.Created, uniqueBytes: max(0, $0.Size - max(0, $0.SharedSize ?? 0)),
          containers: max(0, $0.Containers ?? 0), build: $0.Labels?["turnout.build"])
      })
  }

  public func refresh(_ reference: String) async throws(RuntimeError) {
    try await pull(reference, auth: nil)
  }

  public func removeImage(_ id: String) async throws(RuntimeError) {
    let (status, body) = try await request(.DELETE, "/images/\(Self.encoded(id))?force=1")
    switch status {
    case 200, 404: return
    default: throw failure(status, body, "remove image \(id)")
    }
  }
}
