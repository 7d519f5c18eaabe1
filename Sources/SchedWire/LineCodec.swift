import Foundation

/// Turns frames into JSON lines and lines back into frames.
///
/// Decoding never throws: a bad line becomes a `LineError` that names the problem, ready to be sent
/// back as an `error` line, so the caller can answer and keep the connection.
public enum LineCodec {
  /// Encodes a frame as one JSON object, without the trailing newline.
  ///
  /// The head comes first in a fixed order (`v`, `type`, `id`), then the body's fields sorted by
  /// name, so the same frame always gives the same bytes.
  public static func encode(_ frame: Frame) -> String {
    do {
      var line = "{\"v\":\(frame.version),\"type\":\"\(frame.message.type.rawValue)\""
      if let id = frame.id {
        line += ",\"id\":" + String(decoding: try encoder.encode(id), as: UTF8.self)
      }
      let body = String(decoding: try encodeBody(frame.message), as: UTF8.self)
      // The body is a JSON object: splice its members after the head.
      let members = body.dropFirst().dropLast()
      if !members.isEmpty { line += "," + members }
      return line + "}"
    } catch {
      // Our own message types always encode; this is a programming error.
      preconditionFailure("cannot encode \(frame.message.type): \(error)")
    }
  }

  private static func encodeBody(_ message: ClusterMessage) throws -> Data {
    switch message {
    case .hello(let body): try encoder.encode(body)
    case .welcome(let body): try encoder.encode(body)
    case .register(let body): try encoder.encode(body)
    case .registered(let body): try encoder.encode(body)
    case .heartbeat(let body): try encoder.encode(body)
    case .error(let body): try encoder.encode(body)
    case .command(let body): try encoder.encode(body)
    case .commandAck(let body): try encoder.encode(body)
    case .routes(let body): try encoder.encode(body)
    case .commit(let body): try encoder.encode(body)
    case .abort(let body): try encoder.encode(body)
    case .routeAck(let body): try encoder.encode(body)
    case .drain(let body): try encoder.encode(body)
    case .drained(let body): try encoder.encode(body)
    case .routerReport(let body): try encoder.encode(body)
    }
  }

  /// Encodes a frame with its newline, ready for the socket.
  public static func encodeLine(_ frame: Frame) -> [UInt8] {
    Array(encode(frame).utf8) + [UInt8(ascii: "\n")]
  }

  /// Decodes one line (without its newline).
  public static func decode(_ line: some Collection<UInt8>) -> Result<Frame, LineError> {
    let data = Data(line)
    let head: Head
    do {
      head = try decoder.decode(Head.self, from: data)
    } catch let error as DecodingError {
      return .failure(LineError(id: nil, reply: describe(error)))
    } catch {
      return .failure(LineError(id: nil, reply: ErrorReply(code: .badJSON, message: "\(error)")))
    }
    guard ProtocolVersion.supported.contains(head.v) else {
      return .failure(
        LineError(
          id: head.id,
          reply: ErrorReply(
            code: .unsupportedVersion,
            message:
              "protocol version \(head.v) is not spoken here; supported: \(ProtocolVersion.supported.map(String.init).joined(separator: ", "))"
          )))
    }
    guard let type = MessageType(rawValue: head.type) else {
      let known = MessageType.allCases.map(\.rawValue).joined(separator: ", ")
      return .failure(
        LineError(
          id: head.id,
          reply: ErrorReply(
            code: .unknownType,
            message: "unknown message type '\(head.type)'; known types: \(known)")
        ))
    }
    do {
      let message = try decodeBody(type, from: data)
      return .success(Frame(version: head.v, id: head.id, message))
    } catch let error as DecodingError {
      var reply = describe(error)
      reply.message = "\(type.rawValue): \(reply.message)"
      return .failure(LineError(id: head.id, reply: reply))
    } catch {
      return .failure(
        LineError(id: head.id, reply: ErrorReply(code: .badField, message: "\(error)")))
    }
  }

  private static func decodeBody(_ type: MessageType, from data: Data) throws -> ClusterMessage {
    switch type {
    case .hello: .hello(try decoder.decode(Hello.self, from: data))
    case .welcome: .welcome(try decoder.decode(Welcome.self, from: data))
    case .register: .register(try decoder.decode(Register.self, from: data))
    case .registered: .registered(try decoder.decode(Registered.self, from: data))
    case .heartbeat: .heartbeat(try decoder.decode(Heartbeat.self, from: data))
    case .error: .error(try decoder.decode(ErrorReply.self, from: data))
    case .command: .command(try decoder.decode(Command.self, from: data))
    case .commandAck: .commandAck(try decoder.decode(CommandAck.self, from: data))
    case .routes: .routes(try decoder.decode(Routes.self, from: data))
    case .commit: .commit(try decoder.decode(Commit.self, from: data))
    case .abort: .abort(try decoder.decode(Abort.self, from: data))
    case .routeAck: .routeAck(try decoder.decode(RouteAck.self, from: data))
    case .drain: .drain(try decoder.decode(Drain.self, from: data))
    case .drained: .drained(try decoder.decode(Drained.self, from: data))
    case .routerReport: .routerReport(try decoder.decode(RouterReport.self, from: data))
    }
  }

  /// Words a person can act on, from Foundation's decoding error.
  public static func describe(_ error: DecodingError) -> ErrorReply {
    switch error {
    case .typeMismatch(let type, let context):
      if context.codingPath.isEmpty {
        return ErrorReply(code: .badJSON, message: "a line must be one JSON object")
      }
      return ErrorReply(
        code: .badField,
        message: "field '\(path(context.codingPath))' must be \(typeName(type))")
    case .valueNotFound(let type, let context):
      return ErrorReply(
        code: .badField,
        message: "field '\(path(context.codingPath))' must be \(typeName(type)), not null")
    case .keyNotFound(let key, let context):
      return ErrorReply(
        code: .badField, message: "missing field '\(path(context.codingPath + [key]))'")
    case .dataCorrupted(let context):
      if context.codingPath.isEmpty {
        return ErrorReply(code: .badJSON, message: "the line is not valid JSON")
      }
      return ErrorReply(
        code: .badField,
        message: "field '\(path(context.codingPath))' is not valid: \(context.debugDescription)")
    @unknown default:
      return ErrorReply(code: .badField, message: "\(error)")
    }
  }

  private static func path(_ keys: [any CodingKey]) -> String {
    var out = ""
    for key in keys {
      if let index = key.intValue {
        out += "[\(index)]"
      } else {
        out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
      }
    }
    return out
  }

  private static func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int.Type, is Int64.Type: "an integer"
    case is Bool.Type: "true or false"
    case is Double.Type: "a number"
    default:
      if type is any Collection.Type { "an array" } else { "an object" }
    }
  }

  private struct Head: Decodable {
    var v: Int
    var type: String
    var id: String?
  }

  // Made per call: cheap next to a socket write, and nothing shared between threads.
  private static var encoder: JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .secondsSince1970
    return encoder
  }

  private static var decoder: JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .secondsSince1970
    return decoder
  }
}

/// A line that could not be decoded: the reply to send, and the request id if one was readable.
public struct LineError: Error, Sendable, Equatable {
  public var id: String?
  public var reply: ErrorReply

  public init(id: String?, reply: ErrorReply) {
    self.id = id
    self.reply = reply
  }

  /// The `error` frame to send back.
  public var frame: Frame { Frame(id: id, .error(reply)) }
}
