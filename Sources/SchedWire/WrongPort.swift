/// A peer that dialed the wrong one of the scheduler's two ports: HTTP on the cluster port
/// (schedctl or a browser pointed at it), or the cluster protocol on the API port (an agent or
/// a router pointed at it). Each side tells from the first line, and says which port to use.
public enum WrongPort {
  static let methods = ["GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "PATCH ", "OPTIONS "]

  /// Whether `line` is an HTTP request line (`GET /v1/nodes HTTP/1.1`).
  public static func isHTTPRequest(_ line: some Collection<UInt8>) -> Bool {
    let text = String(decoding: line.prefix(2048), as: UTF8.self)
    return methods.contains { text.hasPrefix($0) } && text.contains(" HTTP/1.")
  }

  /// Whether `line` is an HTTP status line (`HTTP/1.1 400 Bad Request`).
  public static func isHTTPResponse(_ line: some Collection<UInt8>) -> Bool {
    let text = String(decoding: line.prefix(16), as: UTF8.self)
    return text.hasPrefix("HTTP/1.") || text.hasPrefix("HTTP/2")
  }

  /// What the cluster port says to an HTTP client, as one whole HTTP/1.1 response.
  public static let clusterPortMessage =
    "this is the Turnout scheduler's cluster port, which agents and routers dial (line-delimited JSON); the operator API (schedctl, the dashboard, /metrics) is on schedd's API port, by default 7070: schedctl --scheduler http://HOST:7070"

  public static var clusterPortAnswer: [UInt8] {
    let body = #"{"code":"wrong_port","error":"\#(clusterPortMessage)"}"#
    return Array(
      ("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n"
        + body).utf8)
  }

  /// What an agent or a router says when the scheduler address it dialed answered in HTTP.
  public static func httpAnswerMessage(host: String, port: Int) -> String {
    "\(host):\(port) answered in HTTP: it is schedd's API port (or another web server), not its cluster port; point --scheduler at the cluster port (schedd --cluster-listen, by default 7100)"
  }
}
