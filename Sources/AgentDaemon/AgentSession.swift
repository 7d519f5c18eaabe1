import AgentCore
import Logging
import NIOCore
import SchedModel
import SchedWire
import WireTransport

/// One connection's life on the agent side: hello, register, then heartbeats and commands.
struct AgentSession {
  let agent: Agent
  let connection: LineConnection
  var gate: CommandGate
  /// What this connection presents: the token's secret and a certificate request, or neither.
  let dial: ClusterAccess.Dial

  /// Returns the command gate (with its generation) when the scheduler closes the connection.
  func run(onRegistered: @Sendable () -> Void) async throws -> CommandGate {
    var lines = connection.inbound.makeAsyncIterator()
    let config = agent.config
    try await connection.send(
      Frame(
        id: "hello",
        .hello(
          Hello(
            role: .agent, versions: ProtocolVersion.supported, node: config.node,
            token: dial.token, csr: dial.request?.pem))))
    guard case .welcome(let welcome) = try await next(&lines, expecting: "welcome") else {
      throw AgentError(.session, "expected welcome")
    }
    // Before anything the scheduler says is acted on: is it this node's cluster?
    if let reason = agent.cluster.admit(welcome.cluster) {
      throw AgentError(.wrongCluster, reason)
    }
    do { try agent.access.accept(welcome, for: dial) } catch {
      throw AgentError(.refused, error.message)
    }
    if dial.request != nil, let identity = agent.access.identity {
      agent.logger.notice(
        "joined: this node's certificate is kept for its next connections",
        metadata: ["certificate": "\(identity.serial)", "until": "\(identity.notAfter)"])
    }
    let capacity = try await agent.probe.capacity()
    let spec = NodeSpec(
      id: config.node, name: config.name, address: config.advertiseAddress, capacity: capacity,
      ports: config.ports, labels: config.labels)
    try await connection.send(Frame(id: "register", .register(Register(node: spec))))
    guard case .registered(let registered) = try await next(&lines, expecting: "registered") else {
      throw AgentError(.session, "expected registered")
    }
    var gate = self.gate
    gate.registered(generation: registered.generation)
    onRegistered()
    agent.logger.info(
      "registered with scheduler",
      metadata: [
        "node.id": "\(config.node)", "node.generation": "\(registered.generation)",
        "cpu.millis": "\(capacity.cpuMillis)", "memory.bytes": "\(capacity.memoryBytes)",
        "heartbeat.ms": "\(welcome.heartbeatMillis)",
      ])

    let interval = Duration.milliseconds(max(welcome.heartbeatMillis, 50))
    let heartbeats = Task { try await heartbeatLoop(every: interval) }
    defer { heartbeats.cancel() }
    while let frame = try await lines.next() {
      guard case .line(let bytes) = frame else {
        throw AgentError(.session, "scheduler sent an oversized line")
      }
      switch LineCodec.decode(bytes.readableBytesView) {
      case .failure(let error):
        agent.logger.warning(
          "bad line from scheduler", metadata: ["error": "\(error.reply.message)"])
      case .success(let frame):
        try await handle(frame, gate: &gate)
      }
    }
    return gate
  }

  private func handle(_ frame: Frame, gate: inout CommandGate) async throws {
    switch frame.message {
    case .command(let command):
      guard let id = frame.id else {
        agent.logger.warning("command without id ignored")
        return
      }
      let ack: CommandAck
      switch gate.decide(id: id, command: command) {
      case .execute where command.action.kind == .build && agent.builds != nil:
        // A build runs for minutes and streams its output; its ack goes out when it ends.
        guard case .build(let order) = command.action, let builds = agent.builds else { return }
        let connection = self.connection
        Task {
          let ack = await builds.run(order) { log in
            try? await connection.send(Frame(.buildLog(log)))
          }
          try? await connection.send(Frame(id: id, .commandAck(ack)))
        }
        return
      case .execute where command.action.kind == .runTest || command.action.kind == .checkSlot:
        // A test runs for minutes, a check for its timeout: the answer goes out when it ends,
        // while assigns go on.
        let executor = agent.executor
        let connection = self.connection
        Task {
          let ack = await executor.execute(command.action)
          try? await connection.send(Frame(id: id, .commandAck(ack)))
        }
        return
      case .execute:
        ack = await agent.executor.execute(command.action)

        gate.record(id: id, ack: ack)
      case .replay(let previous):
        ack = previous
      case .stale(let refusal):
        ack = refusal
      }
      try await connection.send(Frame(id: id, .commandAck(ack)))
    case .error(let reply):
      agent.logger.warning(
        "scheduler reported an error",
        metadata: ["code": "\(reply.code.rawValue)", "error": "\(reply.message)"])
    default:
      agent.logger.debug("ignored unexpected \(frame.message.type.rawValue)")
    }
  }

  /// Beats at a fixed rate: each is due an interval after the one before was due, not after it
  /// was sent, so time spent reading usage and sending (long on a loaded host) does not add
  /// up; a beat whose time passed meanwhile goes at once and the rate starts again from it. A
  /// slot's health change brings the next beat forward, and the rate starts again from that
  /// one.
  private func heartbeatLoop(every interval: Duration) async throws {
    let clock = ContinuousClock()
    var sequence = 0
    var beat = clock.now
    while !Task.isCancelled {
      do {
        let usage = try await agent.probe.usage()
        let slots = await agent.executor.slotStatuses()
        let drift = await agent.executor.takeDrift()
        let pulls = await agent.executor.imagePulls()
        sequence += 1
        try await connection.send(
          Frame(
            id: "hb\(sequence)",
            .heartbeat(Heartbeat(usage: usage, slots: slots, drift: drift, pulls: pulls))))
      } catch let error as ProbeError {
        agent.logger.error("cannot read host usage", metadata: ["error": "\(error)"])
      }
      beat += interval
      if beat < clock.now { beat = clock.now }
      while clock.now < beat {
        try await agent.pacer.pause(for: min(agent.config.reportPoll, beat - clock.now))
        if await agent.executor.reportDue() {
          beat = clock.now
          break
        }
      }
    }
  }

  /// Reads the next frame; an `error` reply from the scheduler during the handshake ends the
  /// session, and a refusal (token, version) ends the agent.
  private func next(
    _ lines: inout NIOAsyncChannelInboundStream<LineFrame>.AsyncIterator, expecting: String
  ) async throws -> ClusterMessage {
    guard let frame = try await lines.next() else {
      throw AgentError(.session, "scheduler closed the connection before \(expecting)")
    }
    guard case .line(let bytes) = frame else {
      throw AgentError(.session, "scheduler sent an oversized line")
    }
    switch LineCodec.decode(bytes.readableBytesView) {
    case .failure where WrongPort.isHTTPResponse(bytes.readableBytesView):
      let config = agent.config
      throw AgentError(
        .session,
        WrongPort.httpAnswerMessage(host: config.schedulerHost, port: config.schedulerPort))
    case .failure(let error):
      throw AgentError(.session, "cannot read scheduler's \(expecting): \(error.reply.message)")
    case .success(let frame):
      if case .error(let reply) = frame.message {
        switch reply.code {
        case .unauthorized, .unsupportedVersion, .badField:
          throw AgentError(.refused, "scheduler refused this agent: \(reply.message)")
        case .badJSON, .unknownType, .lineTooLong, .helloTimeout, .unexpected, .internal,
          .conflict, .notFound:
          throw AgentError(.session, "scheduler answered \(reply.code.rawValue): \(reply.message)")
        }
      }
      return frame.message
    }
  }
}
