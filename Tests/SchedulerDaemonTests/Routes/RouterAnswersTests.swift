import NIOCore
import NIOEmbedded
import OperatorAPI
import SchedModel
import SchedWire
import Testing
import WireTransport

@testable import SchedulerDaemon

/// A stand-in for a router connection: answers are matched by the connection's identity.
final class FakeRouterConnection: Sendable {}

private func ack(_ epoch: Int64 = 7) -> ClusterMessage {
  .routeAck(RouteAck(epoch: epoch, ok: true))
}

private func outcome(_ results: RouterAnswers.Results) -> [String: String] {
  var out: [String: String] = [:]
  for (router, result) in results {
    switch result {
    case .success(.routeAck(let ack)): out[router] = "ack \(ack.epoch)"
    case .success(let other): out[router] = "\(other.type.rawValue)"
    case .failure(.left): out[router] = "left"
    case .failure(.timedOut): out[router] = "timed out"
    }
  }
  return out
}

@Suite("Router answers: one wake-up per round")
struct RouterAnswersTests {
  let one = FakeRouterConnection()
  let two = FakeRouterConnection()

  func requests() -> [RouterAnswers.Request] {
    [
      .init(id: "q1", router: "edge-1", session: ObjectIdentifier(one)),
      .init(id: "q2", router: "edge-2", session: ObjectIdentifier(two)),
    ]
  }

  @Test func aRoundEndsWhenEveryRouterAnswered() async {
    let answers = RouterAnswers()
    let (one, two) = (ObjectIdentifier(self.one), ObjectIdentifier(self.two))
    let round = answers.expect(requests(), gone: [])
    // An answer read before the caller waits still counts: the round is registered first.
    #expect(answers.answered("q1", ack(), from: one))
    Task { answers.answered("q2", ack(8), from: two) }
    let results = await answers.wait(round, timeout: .seconds(30))
    #expect(outcome(results) == ["edge-1": "ack 7", "edge-2": "ack 8"])
    // Once taken, an id is not taken again.
    #expect(!answers.answered("q1", ack(), from: one))
  }

  @Test func anotherConnectionCannotAnswerARequest() async {
    let answers = RouterAnswers()
    let (one, two) = (ObjectIdentifier(self.one), ObjectIdentifier(self.two))
    let round = answers.expect(requests(), gone: [])
    #expect(!answers.answered("q1", ack(), from: two))
    #expect(answers.answered("q2", ack(), from: two))
    let results = await answers.wait(round, timeout: .milliseconds(200))
    #expect(outcome(results) == ["edge-1": "timed out", "edge-2": "ack 7"])
    // A late answer finds nothing waiting.
    #expect(!answers.answered("q1", ack(), from: one))
  }

  @Test func aClosedConnectionCountsAsLeft() async {
    let answers = RouterAnswers()
    let (one, two) = (ObjectIdentifier(self.one), ObjectIdentifier(self.two))
    let round = answers.expect(requests(), gone: [])
    answers.left(one)
    answers.answered("q2", ack(), from: two)
    let results = await answers.wait(round, timeout: .seconds(30))
    #expect(outcome(results) == ["edge-1": "left", "edge-2": "ack 7"])
  }

  @Test func routersGoneBeforeTheRoundAreReportedAtOnce() async {
    let answers = RouterAnswers()
    let results = await answers.wait(
      answers.expect([], gone: ["edge-9"]), timeout: .seconds(30))
    #expect(outcome(results) == ["edge-9": "left"])
  }
}

@Suite("Router answer tap")
struct RouterAnswerTapTests {
  func line(_ frame: Frame) -> LineFrame {
    let bytes = LineCodec.encodeLine(frame)
    return .line(ByteBuffer(bytes: bytes.dropLast()))
  }

  func passedOn(_ channel: EmbeddedChannel) throws -> [String] {
    var out: [String] = []
    while let frame = try channel.readInbound(as: LineFrame.self) {
      if case .line(let bytes) = frame,
        case .success(let decoded) = LineCodec.decode(
          bytes.readableBytesView)
      {
        out.append("\(decoded.message.type.rawValue) \(decoded.id ?? "-")")
      }
    }
    return out
  }

  @Test func answersOfAClaimedRouterAreTakenEverythingElsePassesOn() async throws {
    let tap = RouterAnswerTap()
    let channel = EmbeddedChannel(handler: tap)
    let answers = RouterAnswers()
    let router = FakeRouterConnection()
    let session = ObjectIdentifier(router)

    // Before the router is admitted its lines all go on to the session.
    try channel.writeInbound(line(Frame(id: "q1", ack())))
    #expect(try passedOn(channel) == ["route_ack q1"])

    tap.claim(answers, for: session)
    let round = answers.expect([.init(id: "q1", router: "edge-1", session: session)], gone: [])
    // Read on the connection: taken by the tap, never seen by the session.
    try channel.writeInbound(line(Frame(id: "q1", ack(9))))
    let results = await answers.wait(round, timeout: .seconds(30))
    #expect(outcome(results) == ["edge-1": "ack 9"])
    #expect(try passedOn(channel) == [])

    // An answer nobody waits for, a report and a drained without a waiter go on.
    try channel.writeInbound(line(Frame(id: "q5", ack())))
    try channel.writeInbound(line(Frame(.routerReport(RouterReport(epoch: 1, traffic: [])))))
    try channel.writeInbound(
      line(Frame(id: "q6", .drained(Drained(app: "web", color: .blue, inFlight: 0)))))
    #expect(try passedOn(channel) == ["route_ack q5", "router_report -", "drained q6"])
    _ = try channel.finish()
  }

  @Test func onlyAnswersAreDecoded() {
    func head(_ frame: Frame) -> Bool {
      let bytes = LineCodec.encodeLine(frame)
      return RouterAnswerTap.isAnswer(ByteBuffer(bytes: bytes).readableBytesView)
    }
    #expect(head(Frame(id: "q1", ack())))
    #expect(head(Frame(id: "q2", .drained(Drained(app: "web", color: .blue, inFlight: 3)))))
    #expect(!head(Frame(.routerReport(RouterReport(epoch: 1, traffic: [])))))
    #expect(!head(Frame(id: "c1", .commit(Commit(epoch: 4)))))
  }
}
