import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import OperatorAPI

/// The simulator's deploy requests, sent the way a load generator sends them (wrk): one
/// keep-alive HTTP/1.1 connection to the API per lane, each lane's deploys one after the
/// other on it. The full client (`APIClient`, schedctl's: a connection pool, redirects,
/// timeouts, TLS) took 25 to 30% of this process's CPU while it deployed, CPU that the
/// scheduler it measures, on the same machine, did not get. Plain `http://` only.
struct DeployLanes {
  let host: String
  let port: Int
  let token: String

  /// Lanes for `api` (`http://HOST:PORT`), nil for any other URL (`https://`: the caller
  /// uses `APIClient`).
  init?(api: String, token: String) {
    guard let url = URL(string: api), url.scheme == "http", let host = url.host,
      url.path.isEmpty || url.path == "/"
    else { return nil }
    self.host = host
    self.port = url.port ?? 80
    self.token = token
  }

  /// Deploys `apps` on one connection, one after the other; hands each answer to `answered`
  /// with how long it took, as it comes.
  func run(_ apps: [String], answered: @escaping @Sendable (DeployResponse, Duration) -> Void)
    async throws
  {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(host: host, port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHTTPClientHandlers()
          return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
            wrappingChannelSynchronously: channel)
        }
      }
    try await channel.executeThenClose { inbound, outbound in
      var answers = inbound.makeAsyncIterator()
      let decoder = JSONDecoder()
      for app in apps {
        let asked = ContinuousClock.now
        try await outbound.write(contentsOf: request(deploying: app))
        let (status, body) = try await Self.answer(&answers, to: app)
        guard (200..<300).contains(status.code) else {
          throw LaneError(
            "deploy of \(app) answered HTTP \(status.code): \(String(buffer: body).prefix(300))")
        }
        let response: DeployResponse
        do {
          response = try decoder.decode(DeployResponse.self, from: Data(body.readableBytesView))
        } catch {
          throw LaneError("deploy of \(app): the answer could not be read: \(error)")
        }
        answered(response, ContinuousClock.now - asked)
      }
    }
  }

  private func request(deploying app: String) -> [HTTPClientRequestPart] {
    var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/apps/\(app)/deploy")
    head.headers.add(name: "Host", value: "\(host):\(port)")
    head.headers.add(name: "Authorization", value: "Bearer \(token)")
    head.headers.add(name: "Accept", value: "application/json")
    head.headers.add(name: "Content-Type", value: "application/json")
    head.headers.add(name: "Content-Length", value: "2")
    head.headers.add(name: "X-Turnout-Actor", value: "sched-sim")
    return [.head(head), .body(.byteBuffer(ByteBuffer(string: "{}"))), .end(nil)]
  }

  private static func answer(
    _ answers: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
    to app: String
  ) async throws -> (HTTPResponseStatus, ByteBuffer) {
    var status: HTTPResponseStatus?
    var body = ByteBuffer()
    while let part = try await answers.next() {
      switch part {
      case .head(let head): status = head.status
      case .body(var bytes): body.writeBuffer(&bytes)
      case .end:
        guard let status else { throw LaneError("deploy of \(app): an answer without a head") }
        return (status, body)
      }
    }
    throw LaneError("the API closed the connection before answering the deploy of \(app)")
  }
}

/// A lane's request failed: what was asked and what came back.
struct LaneError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
