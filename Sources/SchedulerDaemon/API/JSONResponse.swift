import Foundation
import Hummingbird
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

  /// Decodes a request body, or throws a 400 naming the bad field.
  static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
    let buffer = try await request.body.collect(upTo: 1 << 20)
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

/// An API failure that Hummingbird turns into a JSON error response.
struct APIError: HTTPResponseError {
  let status: HTTPResponse.Status
  let code: String
  let message: String

  init(_ status: HTTPResponse.Status, code: String, _ message: String) {
    self.status = status
    self.code = code
    self.message = message
  }

  func response(from request: Request, context: some RequestContext) throws -> Response {
    JSONResponse.error(status, code: code, message)
  }
}
