import Logging
import NIOCore
import OperatorAPI
import SchedModel
import SchedWire
import WireTransport

/// Serves one connection on the cluster port: hello, register, then heartbeats and acks.
///
/// Bad lines are answered with an `error` line and the connection stays; only an oversized
/// line, a missing hello, a refused hello, or a replaced registration closes it.
struct ClusterSession {
  let cluster: Cluster
  /// The admission rules; its tokens are replaced by `secrets`' at each hello.
  let admission: Admission
  /// The join secrets in force (a rotation changes them).
  let secrets: JoinSecrets
  let helloTimeout: Duration
  let logger: Logger
  /// Called after a node registered, off the connection's read loop (it sends commands whose
  /// acks this loop must read).
  let onRegistered: @Sendable (NodeID) async -> Void
  /// Routers connected on the cluster port.
  let routers: RouterHub
  /// Called after a heartbeat that changed slot reports, fetches or liveness, off the read
  /// loop: slot health may have changed the routes.
  let onHeartbeat: @Sendable () async -> Void
  /// The image store, whose blobs agents fetch on data connections.
  let images: ImageService
  /// A builder's output, as it streams in.
  let onBuildLog: @Sendable (BuildLog, NodeID) async -> Void
  /// The cluster CA over TLS; nil on an `--insecure-cluster`.
  let authority: ClusterAuthority?

  private enum Phase {
    case awaitingHello
    case awaitingRegister(Hello)
    case registered(NodeID, AgentSession)
    case router(RouterSession)
    /// An agent's data connection: blobs only.
    case data(Hello)
    /// A data connection reading the raw bytes of a `put_blob`.
    case uploading(Hello, BlobUpload)
  }

  func run(_ connection: LineConnection) async {
    let helloSeen = OnceFlag()
    let timer = Task {
      try await Task.sleep(for: helloTimeout)
      if !helloSeen.isSet {
        logger.notice("no hello in time; closing", metadata: ["peer": "\(connection.peer)"])
        await connection.sendAndClose(
          Frame(
            .error(
              ErrorReply(
                code: .helloTimeout,
                message: "no hello within \(helloTimeout); send hello as the first line"))))
      }
    }
    defer { timer.cancel() }

    var phase = Phase.awaitingHello
    do {
      lines: for try await frame in connection.inbound {
        switch frame {
        case .tooLong:
          await connection.sendAndClose(
            Frame(
              .error(
                ErrorReply(
                  code: .lineTooLong,
                  message: "line longer than \(WireLimits.maxLineBytes) bytes; closing"))))
          break lines
        case .bytes(let bytes):
          guard case .uploading(let hello, let upload) = phase else {
            logger.notice(
              "raw bytes outside an upload; closing", metadata: ["peer": "\(connection.peer)"])
            connection.close()
            break lines
          }
          upload.take(bytes)
          if upload.isComplete {
            try await connection.send(upload.finish())
            phase = .data(hello)
          }
        case .line(let bytes):
          if case .awaitingHello = phase, WrongPort.isHTTPRequest(bytes.readableBytesView) {
            // schedctl or a browser at the wrong port: an HTTP answer it can show.
            logger.notice(
              "HTTP request on the cluster port; answered and closed",
              metadata: ["peer": "\(connection.peer)"])
            helloSeen.set()
            try? await connection.sendRaw(WrongPort.clusterPortAnswer)
            connection.close()
            break lines
          }
          switch LineCodec.decode(bytes.readableBytesView) {
          case .failure(let error):
            logger.debug(
              "bad line",
              metadata: ["peer": "\(connection.peer)", "error": "\(error.reply.message)"])
            try await connection.send(error.frame)
          case .success(let frame):
            guard let next = try await handle(frame, in: phase, connection, helloSeen) else {
              break lines
            }
            phase = next
          }
        }
      }
    } catch {
      logger.debug(
        "connection error", metadata: ["peer": "\(connection.peer)", "error": "\(error)"])
    }
    if case .registered(let node, let session) = phase {
      await cluster.disconnected(node: node, session: session)
    }
    if case .router(let session) = phase {
      await routers.disconnected(session)
    }
    if case .uploading(_, let upload) = phase { upload.abandon() }
  }

  /// Returns the next phase, or nil when the connection must close.
  private func handle(
    _ frame: Frame, in phase: Phase, _ connection: LineConnection, _ helloSeen: OnceFlag
  ) async throws -> Phase? {
    switch (phase, frame.message) {
    case (.awaitingHello, .hello(let hello)):
      helloSeen.set()
      let certified = await authority?.certified(connection)
      var admission = self.admission
      admission.tokens = secrets.current
      switch admission.admit(hello, certified: certified) {
      case .success(var welcome):
        // A renewal's connection carries only a new certificate for the current one.
        if hello.renew == true, certified == nil || hello.csr == nil || authority == nil {
          await connection.sendAndClose(
            reply(frame, .badField, "a renewal needs the current certificate and a csr"))
          return nil
        }
        if let csr = hello.csr, let authority {
          do {
            welcome.certificate = try await authority.issue(
              requestPEM: csr, role: hello.role, name: hello.node.rawValue)
          } catch {
            logger.warning(
              "certificate request refused",
              metadata: ["node.id": "\(hello.node)", "error": "\(error.message)"])
            await connection.sendAndClose(
              reply(frame, error.code == .invalid ? .badField : .internal, error.message))
            return nil
          }
        }
        // The renewal's answer, then the connection closes; the node's session goes on.
        if hello.renew == true {
          await connection.sendAndClose(Frame(id: frame.id, .welcome(welcome)))
          return nil
        }
        if hello.role == .router {
          let session = RouterSession(
            name: hello.node.rawValue, connection: connection, preview: hello.preview,
            servesHTTPS: hello.https == true)
          // From now on the router's answers are settled as they are read.
          await connection.handler(RouterAnswerTap.self)?.claim(
            routers.answers, for: ObjectIdentifier(session))
          do {
            try await routers.connected(session, welcome: Frame(id: frame.id, .welcome(welcome)))
          } catch {
            logger.warning(
              "duplicate router name refused",
              metadata: ["router": "\(hello.node)", "peer": "\(connection.peer)"])
            await connection.sendAndClose(reply(frame, .conflict, error.message))
            return nil
          }
          return .router(session)
        }
        try await connection.send(Frame(id: frame.id, .welcome(welcome)))
        return .awaitingRegister(hello)
      case .failure(let reply):
        logger.notice(
          "hello refused",
          metadata: [
            "peer": "\(connection.peer)", "node.id": "\(hello.node)", "reason": "\(reply.code)",
          ])
        await connection.sendAndClose(Frame(id: frame.id, .error(reply)))
        return nil
      }

    case (.awaitingRegister(let hello), .register(let register)):
      guard register.node.id == hello.node else {
        try await connection.send(
          reply(
            frame, .badField,
            "register names node '\(register.node.id)' but hello named '\(hello.node)'"))
        return phase
      }
      let session = AgentSession(connection: connection)
      let generation: Int64
      do {
        generation = try await cluster.register(register.node, session: session)
      } catch  where error.code == .duplicateNode {
        logger.warning(
          "duplicate node id refused",
          metadata: ["node.id": "\(register.node.id)", "peer": "\(connection.peer)"])
        await connection.sendAndClose(reply(frame, .conflict, error.message))
        return nil
      } catch {
        try await connection.send(reply(frame, .internal, error.message))
        return phase
      }
      try await connection.send(
        Frame(id: frame.id, .registered(Registered(generation: generation))))
      let node = register.node.id
      let onRegistered = self.onRegistered
      Task { await onRegistered(node) }
      return .registered(node, session)

    case (.awaitingRegister(let hello), .fetchBlob(let request)),
      (.data(let hello), .fetchBlob(let request)):
      guard
        try await BlobServing.serve(
          request, id: frame.id, from: images.blobs, on: connection, node: hello.node,
          logger: logger)
      else { return nil }
      return .data(hello)
    case (.awaitingRegister(let hello), .checkBlobs(let request)),
      (.data(let hello), .checkBlobs(let request)):
      try await connection.send(
        Frame(id: frame.id, .missingBlobs(MissingBlobs(digests: images.missing(request.digests)))))
      return .data(hello)
    case (.awaitingRegister(let hello), .putBlob(let put)),
      (.data(let hello), .putBlob(let put)):
      let upload = BlobUpload(put, id: frame.id, into: images.blobs)
      guard upload.isComplete else { return .uploading(hello, upload) }
      try await connection.send(upload.finish())
      return .data(hello)
    case (.data, _), (.uploading, _):
      try await connection.send(
        reply(
          frame, .unexpected,
          "a data connection carries fetch_blob, check_blobs and put_blob only, not \(frame.message.type.rawValue)"
        ))
      return phase

    case (.registered(let node, let session), .heartbeat(let heartbeat)):
      guard await cluster.isCurrent(session, for: node) else {
        await connection.sendAndClose(
          reply(
            frame, .unexpected,
            "node '\(node)' registered again on another connection; closing this one"))
        return nil
      }
      do {
        switch try await cluster.heartbeat(
          node: node, usage: heartbeat.usage, slots: heartbeat.slots, drift: heartbeat.drift,
          pulls: heartbeat.pulls)
        {
        case .quiet:
          return phase
        case .changed:
          break
        case .back:
          // A node back from down (a partition the connection lived through) gets its list
          // again: slots re-placed meanwhile are stale copies there, stopped at once.
          let onRegistered = self.onRegistered
          Task { await onRegistered(node) }
        }
      } catch {
        logger.error(
          "cannot persist heartbeat", metadata: ["node.id": "\(node)", "error": "\(error)"])
      }
      let onHeartbeat = self.onHeartbeat
      Task { await onHeartbeat() }
      return phase

    case (.registered, .commandAck(let ack)):
      if let id = frame.id { await cluster.acknowledge(id, ack) }
      return phase
    case (.registered(let node, _), .buildLog(let log)):
      await onBuildLog(log, node)
      return phase

    case (.router(let session), .routerReport(let report)):
      await routers.report(report, from: session)
      return phase
    case (.router(let session), .routeAck), (.router(let session), .drained),
      (.router(let session), .previewChecked), (.router(let session), .challengesHeld):
      if let id = frame.id { routers.answered(id, frame.message, from: session) }
      return phase
    case (.router, _):
      session(phase)?.send(
        reply(frame, .unexpected, "\(frame.message.type.rawValue) is not accepted from a router"))
      return phase

    case (.awaitingHello, _):
      try await connection.send(
        reply(frame, .unexpected, "send hello first, not \(frame.message.type.rawValue)"))
      return phase
    case (.awaitingRegister, _):
      try await connection.send(
        reply(frame, .unexpected, "send register after welcome, not \(frame.message.type.rawValue)")
      )
      return phase
    case (.registered, _):
      try await connection.send(
        reply(frame, .unexpected, "\(frame.message.type.rawValue) is not accepted after register"))
      return phase
    }
  }

  private func session(_ phase: Phase) -> RouterSession? {
    if case .router(let session) = phase { return session }
    return nil
  }

  private func reply(_ frame: Frame, _ code: WireErrorCode, _ message: String) -> Frame {
    Frame(id: frame.id, .error(ErrorReply(code: code, message: message)))
  }
}
