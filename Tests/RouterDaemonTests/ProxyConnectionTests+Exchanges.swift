import HTTPFraming
import NIOCore
import RouteTable
import SchedModel
import Testing

@testable import RouterDaemon

/// Exchanges through the value: bodies kept for a replay, retries, framing both ways, the
/// router's own answers.
extension ProxyConnectionTests {
  static func sentBody(_ action: ProxyAction) -> String? {
    guard case .send(_, _, let body) = action else { return nil }
    return body.map { String(buffer: $0) }.joined()
  }

  @Test(
    "a body read before a slot is reached goes to it whole; past the replay limit reading pauses")
  func bodyHeldUntilAttached() {
    var driver = Driver(replayBufferBytes: 8)
    _ = driver.choosing("POST / HTTP/1.1\r\nhost: web.test\r\ncontent-length: 12\r\n\r\n")
    driver.machine.connecting(to: Self.slotA)
    #expect(driver.client("abcd") == [])
    #expect(driver.client("efghij") == ["pauseClient"])
    let sent = driver.machine.connected(driver.link, exchange: 1, now: driver.now)
    #expect(Self.sentBody(sent) == "abcdefghij")
    #expect(driver.client("kl") == ["toUpstream(2, flush: true)"])
    // Not idempotent: a close before the answer is not retried.
    #expect(
      Driver.named([driver.machine.upstreamClosed(driver.link)]) == [
        "answer(502, close: false, failed: web/blue/0)"
      ])
  }

  @Test("an idempotent request whose slot closes before answering is replayed, body and all")
  func replayedOnAnotherSlot() {
    var driver = Driver()
    _ = driver.choosing("PUT /x HTTP/1.1\r\nhost: web.test\r\ncontent-length: 4\r\n\r\nabcd")
    #expect(driver.state == "proxying(choosing)")
    driver.machine.connecting(to: Self.slotA)
    #expect(
      Self.sentBody(driver.machine.connected(driver.link, exchange: 1, now: driver.now)) == "abcd")
    _ = driver.machine.upstreamClosed(driver.link)
    driver.machine.connecting(to: Self.slotB)
    let second = UpstreamHandler(upstream: Self.slotB)
    #expect(Self.sentBody(driver.machine.connected(second, exchange: 1, now: driver.now)) == "abcd")
    // The second slot closing too ends the request: one retry only.
    #expect(
      Driver.named([driver.machine.upstreamClosed(second)]) == [
        "answer(502, close: false, failed: web/blue/1)"
      ])
  }

  @Test("a body that outgrows the replay limit while a retry connects reaches the new slot whole")
  func overflowDuringRetry() {
    var driver = Driver(replayBufferBytes: 8)
    _ = driver.choosing("PUT /x HTTP/1.1\r\nhost: web.test\r\ncontent-length: 12\r\n\r\n")
    driver.machine.connecting(to: Self.slotA)
    _ = driver.client("abcd")
    #expect(
      Self.sentBody(driver.machine.connected(driver.link, exchange: 1, now: driver.now)) == "abcd")
    #expect(
      Driver.named([driver.machine.upstreamClosed(driver.link)]) == [
        "dispatch(reuse: false, continue: false, failed: web/blue/0)"
      ])
    driver.machine.connecting(to: Self.slotB)
    #expect(driver.client("efghijkl") == ["pauseClient"])
    let second = UpstreamHandler(upstream: Self.slotB)
    #expect(
      Self.sentBody(driver.machine.connected(second, exchange: 1, now: driver.now))
        == "abcdefghijkl")
  }

  @Test("part of a head from a slot that then closes is not glued to the next slot's answer")
  func partialHeadDroppedOnRetry() {
    var driver = Driver()
    driver.awaitingHead()
    #expect(driver.slot("HTTP/1.1 20") == [])
    _ = driver.machine.upstreamClosed(driver.link)
    driver.machine.connecting(to: Self.slotB)
    let second = UpstreamHandler(upstream: Self.slotB)
    _ = driver.machine.connected(second, exchange: 1, now: driver.now)
    #expect(
      driver.slot("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", from: second) == [
        "respond(200)", "finished(pool: true, close: false, success)",
      ])
  }

  @Test(
    "a pooled connection found closed is replaced without blaming its slot, elsewhere if can be")
  func stalePooledConnection() {
    var driver = Driver()
    #expect(driver.choosing().description == "dispatch(reuse: true, continue: false, failed: -)")
    #expect(Self.sentBody(driver.machine.attach(driver.link, now: driver.now)) == "")
    let retry = driver.machine.upstreamClosed(driver.link)
    #expect(Driver.named([retry]) == ["dispatch(reuse: false, continue: false, failed: -)"])
    guard case .dispatch(let plan) = retry else { return }
    #expect(plan.avoiding == [driver.link.upstream.address] && plan.excluding.isEmpty)
  }

  @Test(
    "a slot the scheduler withdrew under a GET: sent to the set as it is now, once; a POST waits")
  func withdrawnUnderARequest() {
    var get = Driver()
    get.awaitingHead()
    let now = RouteTable(
      epoch: 2,
      apps: [
        AppRoutes(
          app: "web", hosts: ["web.test"],
          live: RouteSet(color: .blue, deployment: "d1", image: "web:1", upstreams: [Self.slotB]),
          candidate: nil)
      ])
    let moved = get.machine.withdrawn([Self.slotA], table: now)
    guard case .dispatch(let plan) = moved else {
      Issue.record("no dispatch: \(moved)")
      return
    }
    #expect(plan.closing === get.link)
    #expect(plan.set.upstreams == [Self.slotB])
    #expect(plan.excluding == [Self.slotA] && plan.avoiding == [Self.slotA.address])
    #expect(get.state == "proxying(choosing)")
    get.machine.connecting(to: Self.slotB)
    let second = UpstreamHandler(upstream: Self.slotB)
    _ = get.machine.connected(second, exchange: 1, now: get.now)
    #expect(Driver.named([get.machine.withdrawn([Self.slotB], table: now)]).isEmpty, "once")
    // A slot still in the table, or a request that is not safe to send twice: left alone.
    var kept = Driver()
    kept.awaitingHead()
    #expect(Driver.named([kept.machine.withdrawn([Self.slotB], table: now)]).isEmpty)
    var post = Driver()
    post.awaitingHead("POST / HTTP/1.1\r\nhost: web.test\r\ncontent-length: 0\r\n\r\n")
    #expect(Driver.named([post.machine.withdrawn([Self.slotA], table: now)]).isEmpty)
  }

  @Test("what is retried after the request went: an idempotent one once elsewhere, a POST never")
  func retriedAfterSending() {
    var get = Driver()
    get.awaitingHead()
    #expect(
      Driver.named([get.machine.upstreamClosed(get.link)]) == [
        "dispatch(reuse: false, continue: false, failed: web/blue/0)"
      ])
    get.machine.connecting(to: Self.slotB)
    let second = UpstreamHandler(upstream: Self.slotB)
    _ = get.machine.connected(second, exchange: 1, now: get.now)
    #expect(
      Driver.named([get.machine.upstreamClosed(second)]) == [
        "answer(502, close: false, failed: web/blue/1)"
      ], "once")
    var post = Driver()
    post.awaitingHead("POST / HTTP/1.1\r\nhost: web.test\r\ncontent-length: 0\r\n\r\n")
    #expect(
      Driver.named([post.machine.upstreamClosed(post.link)]) == [
        "answer(502, close: false, failed: web/blue/0)"
      ])
  }

  @Test("a refused connection tries two more slots (any method: nothing was sent), then 502")
  func connectFailures() {
    var driver = Driver()
    driver.connecting("POST / HTTP/1.1\r\nhost: web.test\r\ncontent-length: 0\r\n\r\n")
    #expect(
      Driver.named([driver.machine.connectFailed(Self.slotA, exchange: 1)]) == [
        "dispatch(reuse: false, continue: false, failed: web/blue/0)"
      ])
    driver.machine.connecting(to: Self.slotB)
    #expect(
      Driver.named([driver.machine.connectFailed(Self.slotB, exchange: 1)]) == [
        "dispatch(reuse: false, continue: false, failed: web/blue/1)"
      ])
    let slotC = Upstream(
      slot: SlotID(app: "web", color: .blue, index: 2), address: "10.0.0.3", port: 8080)
    driver.machine.connecting(to: slotC)
    #expect(
      Driver.named([driver.machine.connectFailed(slotC, exchange: 1)]) == [
        "answer(502, close: false, failed: web/blue/2)"
      ])
    var none = Driver()
    _ = none.choosing()
    #expect(Driver.named([none.machine.noSlot()]) == ["answer(502, close: false, failed: -)"])
    #expect(none.state == "idle")
  }

  @Test("a chunked answer to an HTTP/1.0 client goes as plain data, then the connection closes")
  func dechunkedForHTTP10() {
    var driver = Driver()
    driver.awaitingHead("GET / HTTP/1.0\r\nhost: web.test\r\n\r\n")
    #expect(
      driver.slot(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        == ["respond(200)", "toClientParts(2)", "finished(pool: true, close: true, success)"])
    #expect(driver.state == "closing")
  }

  @Test("Expect: 100-continue is answered by the router before a slot is chosen")
  func expectContinue() {
    var driver = Driver()
    let action = driver.choosing(
      "POST / HTTP/1.1\r\nhost: web.test\r\nexpect: 100-continue\r\ncontent-length: 3\r\n\r\n")
    #expect(action.description == "dispatch(reuse: false, continue: true, failed: -)")
  }

  @Test("the router's refusals: a request with a body closes, HEAD gets no body")
  func refusals() {
    var withBody = Driver()
    let post = withBody.routing("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n")
    guard case .answer(let closing) = withBody.machine.refuse(post, .notFound, "no app") else {
      Issue.record("no answer")
      return
    }
    #expect(closing.close && closing.includeBody)
    #expect(withBody.state == "closing")
    var headOnly = Driver()
    let head = headOnly.routing("HEAD / HTTP/1.1\r\nhost: x\r\n\r\n")
    guard case .answer(let kept) = headOnly.machine.refuse(head, .notFound, "no app") else {
      Issue.record("no answer")
      return
    }
    #expect(!kept.close && !kept.includeBody)
    #expect(headOnly.state == "idle")
  }

  @Test("heads past the limits: 431 for the client's, 502 for a slot's, a pause for pipelining")
  func headLimits() {
    var driver = Driver()
    let big = "GET / HTTP/1.1\r\nx-big: " + String(repeating: "a", count: 33 * 1024)
    #expect(
      driver.client(big).last?.hasPrefix("answer(431, close: true") == true)
    var pipelining = Driver()
    _ = pipelining.choosing()
    #expect(pipelining.client(big) == ["pauseClient"])
    var slow = Driver()
    slow.awaitingHead()
    #expect(
      slow.slot("HTTP/1.1 200 OK\r\nx-big: " + String(repeating: "a", count: 65 * 1024)) == [
        "answer(502, close: false, failed: web/blue/0)"
      ])
  }

  @Test("a held answer let out at the response timeout goes on from the bytes already in")
  func heldLetOut() {
    var driver = Driver()
    driver.held()
    #expect(Driver.named([driver.machine.tick(now: driver.now + .seconds(5))]).isEmpty)
    #expect(driver.slot("") == ["respond(200)", "toClient(2)"])
    #expect(driver.state == "proxying(body)")
    #expect(
      driver.slot("23456789") == ["toClient(8)", "finished(pool: true, close: false, success)"])
  }

  @Test("broken framing: the client's body cuts the exchange; a slot's body after its head too")
  func brokenFraming() {
    var client = Driver()
    _ = client.choosing("POST / HTTP/1.1\r\nhost: web.test\r\ntransfer-encoding: chunked\r\n\r\n")
    #expect(client.client("zz\r\n") == ["cut(link: false, -)"])
    #expect(client.state == "closing")
    var slot = Driver()
    slot.awaitingHead()
    #expect(
      slot.slot("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n") == [
        "respond(200)", "cut(link: true, proxyError)",
      ])
  }

  @Test("an answer for a request whose body is still coming closes the connection")
  func failMidBody() {
    var driver = Driver()
    _ = driver.choosing("POST / HTTP/1.1\r\nhost: web.test\r\ncontent-length: 10\r\n\r\n")
    driver.machine.connecting(to: Self.slotA)
    _ = driver.machine.connected(driver.link, exchange: 1, now: driver.now)
    #expect(driver.client("abc") == ["toUpstream(3, flush: false)"])
    #expect(
      Driver.named([driver.machine.tick(now: driver.now + .seconds(5))]) == [
        "answer(504, close: true, failed: web/blue/0)"
      ])
    #expect(driver.client("defghij") == [])
  }

  @Test("the client's read buffer is let go once its bytes are taken, and kept while some wait")
  func readBufferLetGo() {
    var driver = Driver()
    // The buffer a read came in: only this test and the machine hold its storage.
    var read = ByteBufferAllocator().buffer(capacity: 4096)
    read.writeString(Self.get)
    _ = driver.machine.clientRead(read, now: driver.now)
    read = ByteBuffer()
    guard case .route = driver.machine.nextFromClient() else {
      Issue.record("no head read")
      return
    }
    #expect(driver.machine.inbound.capacity == 0, "a whole head taken: the storage is let go")

    var driver2 = Driver()
    var two = ByteBufferAllocator().buffer(capacity: 4096)
    two.writeString(Self.get + "GET /next")
    _ = driver2.machine.clientRead(two, now: driver2.now)
    two = ByteBuffer()
    _ = driver2.machine.nextFromClient()
    #expect(driver2.machine.inbound.capacity == 4096, "part of the next head waits in it")
    #expect(String(buffer: driver2.machine.inbound) == "GET /next")
  }
}
