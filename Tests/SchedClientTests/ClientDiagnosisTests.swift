import NIOHTTP1
import OperatorAPI
import Testing

@testable import SchedClient

/// How schedctl tells the operator what it reached when it is not the scheduler's API.
@Suite("Client diagnosis")
struct ClientDiagnosisTests {
  static let base = "http://10.0.0.5:7070"

  @Test("a router, another web server and the cluster port are named; the API is not")
  func notTheAPI() {
    let router = APIClient.notTheAPI(
      status: .notFound, headers: ["x-turnout-error": "no app"], body: nil, baseURL: Self.base)
    #expect(router?.contains("is a Turnout router") == true)
    let nginx = APIClient.notTheAPI(
      status: .notFound, headers: ["content-type": "text/html"], body: nil, baseURL: Self.base)
    #expect(nginx?.contains("answered HTTP 404 with text/html") == true)
    let clusterPort = APIClient.notTheAPI(
      status: .badRequest, headers: ["content-type": "application/json"],
      body: APIErrorBody(error: "this is the cluster port", code: "wrong_port"), baseURL: Self.base)
    #expect(clusterPort == "\(Self.base) is not the API: this is the cluster port")
    let api = APIClient.notTheAPI(
      status: .notFound, headers: ["content-type": "application/json"],
      body: APIErrorBody(error: "no app web", code: "not_found"), baseURL: Self.base)
    #expect(api == nil)
  }

  struct Failure: Error, CustomStringConvertible {
    let description: String
  }

  @Test("TLS against the plain API and HTTP against a port that does not speak it are named")
  func wrongServer() {
    let tls = APIClient.wrongServer(
      Failure(description: "handshakeFailed(BoringSSL WRONG_VERSION_NUMBER)"),
      baseURL: "https://10.0.0.5:7070")
    #expect(tls?.hasSuffix("use http://10.0.0.5:7070") == true)
    let notHTTP = APIClient.wrongServer(
      Failure(description: "HTTPParserError.invalidConstantString"), baseURL: Self.base)
    #expect(notHTTP?.contains("is it schedd's cluster port?") == true)
    #expect(APIClient.wrongServer(Failure(description: "timed out"), baseURL: Self.base) == nil)
  }

  @Test("only failures before a connection count as nothing sent")
  func neverConnected() {
    #expect(APIClient.neverConnected(Failure(description: "connect(): Connection refused")))
    #expect(APIClient.neverConnected(Failure(description: "NIOConnectionError(dnsLookup)")))
    #expect(!APIClient.neverConnected(Failure(description: "remoteConnectionClosed")))
  }
}
