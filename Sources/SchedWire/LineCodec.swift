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
    switch frame.message {
    case .heartbeat(let beat):
      if let line = HotFrames.encode(beat, version: frame.version, id: frame.id) { return line }
    case .command(let command):
      if let line = HotFrames.encode(command, version: frame.version, id: frame.id) { return line }
    default:
      break
    }
    return encodeWithFoundation(frame)
  }

  /// The frame through `JSONEncoder`: every frame but the plain heartbeat.
  static func encodeWithFoundation(_ frame: Frame) -> String {
    do {
      var line = "{\"v\":\(frame.version),\"type\":\"\(frame.message.type.rawValue)\""
      if let id = frame.id { line += ",\"id\":" + jsonString(id) }
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

  /// `value` as a JSON string literal.
  static func jsonString(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
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
    case .previewCheck(let body): try encoder.encode(body)
    case .previewChecked(let body): try encoder.encode(body)
    case .fetchBlob(let body): try encoder.encode(body)
    case .blob(let body): try encoder.encode(body)
    case .buildLog(let body): try encoder.encode(body)
    case .checkBlobs(let body): try encoder.encode(body)
    case .missingBlobs(let body): try encoder.encode(body)
    case .putBlob(let body): try encoder.encode(body)
    case .stored(let body): try encoder.encode(body)
    case .certificates(let body): try encoder.encode(body)
    case .acmeChallenges(let body): try encoder.encode(body)
    case .challengesHeld(let body): try encoder.encode(body)
    case .routerReport(let body): try encoder.encode(body)
    }
  }

  /// Encodes a frame with its newline, ready for the socket.
  public static func encodeLine(_ frame: Frame) -> [UInt8] {
    Array(encode(frame).utf8) + [UInt8(ascii: "\n")]
  }

  /// Decodes one line (without its newline). The line is parsed once: the head first, then,
  /// when the head is acceptable, the body from the same parse.
  public static func decode(_ line: some Collection<UInt8>) -> Result<Frame, LineError> {
    // Heartbeats and slot lists, most of what the cluster's peers read, have readers of their
    // own.
    if let frame = line.withContiguousStorageIfAvailable({
      let bytes = UnsafeRawBufferPointer($0)
      return HotFrames.decodeHeartbeat(bytes) ?? HotFrames.decodeAssign(bytes)
    }) ?? nil {
      return .success(frame)
    }
    return decodeWithFoundation(line)
  }

  /// The line through `JSONDecoder`: every line the heartbeat reader leaves.
  static func decodeWithFoundation(_ line: some Collection<UInt8>) -> Result<Frame, LineError> {
    let envelope: Envelope
    do {
      envelope = try decoder.decode(Envelope.self, from: Data(line))
    } catch let error as DecodingError {
      return .failure(LineError(id: nil, reply: describe(error)))
    } catch {
      return .failure(LineError(id: nil, reply: ErrorReply(code: .badJSON, message: "\(error)")))
    }
    let head = envelope.head
    switch envelope.body {
    case .message(let message):
      return .success(Frame(version: head.v, id: head.id, message))
    case .unsupportedVersion:
      return .failure(
        LineError(
          id: head.id,
          reply: ErrorReply(
            code: .unsupportedVersion,
            message:
              "protocol version \(head.v) is not spoken here; supported: \(ProtocolVersion.supported.map(String.init).joined(separator: ", "))"
          )))
    case .unknownType:
      let known = MessageType.allCases.map(\.rawValue).joined(separator: ", ")
      return .failure(
        LineError(
          id: head.id,
          reply: ErrorReply(
            code: .unknownType,
            message: "unknown message type '\(head.type)'; known types: \(known)")
        ))
    case .failed(let type, let error as DecodingError):
      var reply = describe(error)
      reply.message = "\(type.rawValue): \(reply.message)"
      return .failure(LineError(id: head.id, reply: reply))
    case .failed(_, let error):
      return .failure(
        LineError(id: head.id, reply: ErrorReply(code: .badField, message: "\(error)")))
    }
  }

  /// A whole line: its head, and its body decoded from the same parse when the head allows.
  private struct Envelope: Decodable {
    enum Body {
      case message(ClusterMessage)
      case unsupportedVersion
      case unknownType
      case failed(MessageType, any Error)
    }

    var head: Head
    var body: Body

    init(from decoder: any Decoder) throws {
      head = try Head(from: decoder)
      guard ProtocolVersion.supported.contains(head.v) else {
        body = .unsupportedVersion
        return
      }
      guard let type = MessageType(rawValue: head.type) else {
        body = .unknownType
        return
      }
      do {
        body = .message(try LineCodec.decodeBody(type, from: decoder))
      } catch {
        body = .failed(type, error)
      }
    }
  }

  /// The body's fields sit beside the head's in the same object.
  private static func decodeBody(_ type: MessageType, from decoder: any Decoder) throws
    -> ClusterMessage
  {
    switch type {
    case .hello: .hello(try Hello(from: decoder))
    case .welcome: .welcome(try Welcome(from: decoder))
    case .register: .register(try Register(from: decoder))
    case .registered: .registered(try Registered(from: decoder))
    case .heartbeat: .heartbeat(try Heartbeat(from: decoder))
    case .error: .error(try ErrorReply(from: decoder))
    case .command: .command(try Command(from: decoder))
    case .commandAck: .commandAck(try CommandAck(from: decoder))
    case .routes: .routes(try Routes(from: decoder))
    case .commit: .commit(try Commit(from: decoder))
    case .abort: .abort(try Abort(from: decoder))
    case .routeAck: .routeAck(try RouteAck(from: decoder))
    case .drain: .drain(try Drain(from: decoder))
    case .drained: .drained(try Drained(from: decoder))
    case .previewCheck: .previewCheck(try PreviewCheck(from: decoder))
    case .previewChecked: .previewChecked(try PreviewChecked(from: decoder))
    case .fetchBlob: .fetchBlob(try FetchBlob(from: decoder))
    case .blob: .blob(try BlobHeader(from: decoder))
    case .buildLog: .buildLog(try BuildLog(from: decoder))
    case .checkBlobs: .checkBlobs(try CheckBlobs(from: decoder))
    case .missingBlobs: .missingBlobs(try MissingBlobs(from: decoder))
    case .putBlob: .putBlob(try PutBlob(from: decoder))
    case .stored: .stored(try BlobStored(from: decoder))
    case .certificates: .certificates(try EdgeCertificates(from: decoder))
    case .acmeChallenges: .acmeChallenges(try ACMEChallenges(from: decoder))
    case .challengesHeld: .challengesHeld(try ChallengesHeld(from: decoder))
    case .routerReport: .routerReport(try RouterReport(from: decoder))
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
