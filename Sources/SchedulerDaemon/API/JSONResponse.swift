import Foundation
import Hummingbird
import OperatorAPI
import SchedWire

/// JSON responses with the API's own encoder (sorted keys, snake_case from the types' keys).
enum JSONResponse {
  static func ok(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .secondsSince1970
    do {
      let data = try encoder.encode(value)
      return Response(
        status: status, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    } catch {
      return Self.error(.internalServerError, code: "internal", "cannot encode response: \(error)")
    }
  }

  static func error(_ status: HTTPResponse.Status, code: String, _ message: String) -> Response {
    let data = (try? JSONEncoder().encode(APIErrorBody(error: message, code: code))) ?? Data()
    return Response(
      status: status, headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }

  /// The largest request body the API takes.
  static let maxBodyBytes = 1 << 20
  /// How much of a body over the limit is read (and dropped) so that its client, still sending,
  /// gets the 413; past this the connection is closed after the answer.
  static let drainBytes = 64 << 20

  /// Decodes a request body, or throws a 400 naming the bad field; a body over 1 MiB gets a
  /// 413 with a JSON error.
  static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
    let buffer = try await body(of: request)
    // No body at all means an empty object: every field left to its default.
    let data = buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer.readableBytesView)
    do {
      return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
      throw APIError(
        .badRequest, code: "bad_request", "request body: \(LineCodec.describe(error).message)")
    } catch {
      throw APIError(.badRequest, code: "bad_request", "request body: \(error)")
    }
  }
}

extension JSONResponse {
  /// The request's body, read to its end. One over `maxBodyBytes` is read on (and dropped) up
  /// to `drainBytes`, so a client that is still sending sees the 413 instead of hanging;
  /// beyond that, or when its declared length is beyond that, the answer closes the connection.
  static func body(of request: Request, limit: Int = maxBodyBytes) async throws -> ByteBuffer {
    func tooLarge(_ size: String, close: Bool) -> APIError {
      APIError(
        .contentTooLarge, code: "too_large",
        "request body of \(size) is over the API's limit of \(limit) bytes; send a smaller one",
        close: close)
    }
    if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
      guard declared <= drainBytes else { throw tooLarge("\(declared) bytes", close: true) }
    }
    var collected = ByteBuffer()
    var total = 0
    for try await chunk in request.body {
      total += chunk.readableBytes
      if total <= limit {
        var chunk = chunk
        collected.writeBuffer(&chunk)
      } else if total > drainBytes {
        throw tooLarge("more than \(drainBytes) bytes", close: true)
      }
    }
    guard total <= limit else { throw tooLarge("\(total) bytes", close: false) }
    return collected
  }
}

/// An API failure that Hummingbird turns into a JSON error response.
struct APIError: HTTPResponseError {
  let status: HTTPResponse.Status
  let code: String
  let message: String
  /// Close the connection after the answer (the rest of the request was not read).
  let close: Bool

  init(_ status: HTTPResponse.Status, code: String, _ message: String, close: Bool = false) {
    self.status = status
    self.code = code
    self.message = message
    self.close = close
  }

  func response(from request: Request, context: some RequestContext) throws -> Response {
    var response = JSONResponse.error(status, code: code, message)
    if close { response.headers[.connection] = "close" }
    return response
  }
}
