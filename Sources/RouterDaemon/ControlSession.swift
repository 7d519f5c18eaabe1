import Checks
import HTTPFraming
import Logging
import NIOCore
import RouteTable
import SchedModel
import SchedWire
import WireTransport

/// The router's connection to the scheduler: hello as a router, then route tables in, acks and
/// traffic reports out.
struct ControlSession {
  let router: Router
  let connection: LineConnection
  /// What this connection presents: the token's secret and a certificate request, or neither.
  let dial: ClusterAccess.Dial

  /// The preview listener's address as the scheduler is told it (it names verify's steps, and
  /// only routers with one are asked to check): `:PORT` when it listens on every address.
  var previewAddress: String? { previewAddress(anyAddress: nil) }

  /// Where this router reaches its own preview listener: loopback when it listens on every
  /// address.
  var localPreviewAddress: String? { previewAddress(anyAddress: (v4: "127.0.0.1", v6: "::1")) }

  /// `HOST:PORT` of the preview listener (IPv6 in brackets); an any-address host becomes the
  /// given loopback, or is left out.
  private func previewAddress(anyAddress loopback: (v4: String, v6: String)?) -> String? {
    guard let port = router.proxy.previewPort else { return nil }
    var host = router.config.previewHost
    if host == "0.0.0.0" || host == "::" || host.isEmpty {
      guard let loopback else { return ":\(port)" }
      host = host == "::" ? loopback.v6 : loopback.v4
    }
    return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
  }

  func run(onWelcome: @Sendable () -> Void) async throws {
    let config = router.config
    var lines = connection.inbound.makeAsyncIterator()
    try await connection.send(
      Frame(
        id: "hello",
        .hello(
          Hello(
            role: .router, versions: ProtocolVersion.supported, node: NodeID(config.name),
            token: dial.token, preview: previewAddress, csr: dial.request?.pem,
            https: router.proxy.edge != nil ? true : nil))))
    guard let first = try await lines.next() else {
      throw RouterError(.session, "scheduler closed the connection before welcome")
    }
    guard case .line(let bytes) = first else {
      throw RouterError(.session, "scheduler sent an oversized line")
    }
    let welcome: Welcome
    switch LineCodec.decode(bytes.readableBytesView) {
    case .success(let frame):
      switch frame.message {
      case .welcome(let body): welcome = body
      case .error(let reply) where reply.code == .unauthorized || reply.code == .unsupportedVersion:
        throw RouterError(.refused, "scheduler refused this router: \(reply.message)")
      case .error(let reply):
        throw RouterError(.session, "scheduler answered hello with an error: \(reply.message)")
      default:
        throw RouterError(.session, "expected welcome, got \(frame.message.type.rawValue)")
      }
    case .failure where WrongPort.isHTTPResponse(bytes.readableBytesView):
      throw RouterError(
        .session,
        WrongPort.httpAnswerMessage(
          host: config.schedulerHost ?? "?", port: config.schedulerPort))
    case .failure(let error):
      throw RouterError(.session, "bad line from scheduler: \(error.reply.message)")
    }
    if let reason = router.cluster.admit(welcome.cluster) {
      throw RouterError(.wrongCluster, reason)
    }
    do { try router.access?.accept(welcome, for: dial) } catch {
      throw RouterError(.refused, error.message)
    }
    if dial.request != nil, let identity = router.access?.identity {
      router.logger.notice(
        "joined: this router's certificate is kept for its next connections",
        metadata: ["certificate": "\(identity.serial)", "until": "\(identity.notAfter)"])
    }
    onWelcome()
    router.logger.info(
      "connected to scheduler",
      metadata: ["router": "\(config.name)", "epoch": "\(router.routes.epoch)"])
    try await report(sequence: 0)
    let interval = Duration.milliseconds(max(welcome.heartbeatMillis, 50))
    let reports = Task {
      var sequence = 0
      while !Task.isCancelled {
        try await Task.sleep(for: interval)
        sequence += 1
        try await report(sequence: sequence)
      }
    }
    defer { reports.cancel() }
    while let frame = try await lines.next() {
      guard case .line(let bytes) = frame else {
        throw RouterError(.session, "scheduler sent an oversized line")
      }
      switch LineCodec.decode(bytes.readableBytesView) {
      case .failure(let error):
        router.logger.warning(
          "bad line from scheduler", metadata: ["error": "\(error.reply.message)"])
      case .success(let frame):
        try await handle(frame)
      }
    }
  }

  private func report(sequence: Int) async throws {
    let traffic = await router.proxy.traffic()
    try await connection.send(
      Frame(
        id: "rr\(sequence)",
        .routerReport(
          RouterReport(epoch: router.routes.epoch, traffic: traffic, startedAt: router.startedAt))))
  }

  private func handle(_ frame: Frame) async throws {
    let logger = router.logger
    switch frame.message {
    case .routes, .commit, .abort:
      // Answered on the event loop by RouteControlHandler; never reaches here.
      break
    case .drain(let drain):
      let proxy = router.proxy
      let connection = self.connection
      Task {
        let deadline = ContinuousClock.now + .milliseconds(max(0, drain.timeoutMillis))
        var left = await proxy.inFlight(app: drain.app, color: drain.color)
        while left > 0, ContinuousClock.now < deadline {
          try await Task.sleep(for: .milliseconds(10))
          left = await proxy.inFlight(app: drain.app, color: drain.color)
        }
        try await connection.send(
          Frame(
            id: frame.id, .drained(Drained(app: drain.app, color: drain.color, inFlight: left))))
      }
    case .previewCheck(let request):
      // The check goes through this router's own preview listener, as a client's request
      // would: the scheduler never dials a router.
      let address = localPreviewAddress
      let connection = self.connection
      Task {
        let result: CheckRunner.Result
        if let address {
          result = await CheckRunner.run(
            request.check, address: address, hostHeader: request.host,
            expect: (request.color, request.deployment))
        } else {
          result = CheckRunner.Result(
            passed: false, millis: 0,
            detail: "this router has no preview listener; start it with --preview-listen HOST:PORT")
        }
        try await connection.send(
          Frame(
            id: frame.id,
            .previewChecked(
              PreviewChecked(
                outcome: CheckOutcome(
                  passed: result.passed, durationMillis: result.millis, detail: result.detail)))
          ))
      }
    case .acmeChallenges(let set):
      let held = router.routes.challenges.replace(set.tokens)
      logger.info("ACME challenges held", metadata: ["tokens": "\(held)"])
      try await connection.send(Frame(id: frame.id, .challengesHeld(ChallengesHeld(count: held))))
    case .error(let reply):
      logger.warning(
        "scheduler reported an error",
        metadata: ["code": "\(reply.code.rawValue)", "error": "\(reply.message)"])
    default:
      logger.debug("ignored unexpected \(frame.message.type.rawValue)")
    }
  }
}
