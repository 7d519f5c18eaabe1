import OperatorAPI
import SchedModel
import SchedWire

extension Cluster {
  /// Sends a command to a node's agent and waits for its ack.
  ///
  /// The command id is fresh for each call; the agent answers a repeated id with its first ack,
  /// so a caller retrying with `id` gets at-most-once execution.
  public func send(
    _ action: CommandAction, to node: NodeID, id: String? = nil, timeout: Duration
  ) async throws(SchedulerError) -> CommandAck {
    guard let session = sessions[node], let generation = nodes[node]?.generation else {
      throw SchedulerError(
        .nodeNotConnected, "node '\(node)' is not connected; check its sched-agent")
    }
    commandCounter += 1
    let commandID = id ?? "c\(commandCounter)-\(generation)"
    let frame = Frame(id: commandID, .command(Command(generation: generation, action: action)))
    let timer = Task { [weak self] in
      try await Task.sleep(for: timeout)
      await self?.fail(
        commandID,
        SchedulerError(
          .commandTimeout, "node '\(node)' did not answer command \(commandID) within \(timeout)"))
    }
    defer { timer.cancel() }
    do {
      return try await withCheckedThrowingContinuation { continuation in
        pendingAcks[commandID] = continuation
        pendingNodes[commandID] = node
        Task {
          do {
            try await session.connection.send(frame)
          } catch {
            self.fail(
              commandID,
              SchedulerError(.nodeNotConnected, "cannot send to node '\(node)': \(error)"))
          }
        }
      }
    } catch let error as SchedulerError {
      throw error
    } catch {
      throw SchedulerError(.commandFailed, "\(error)")
    }
  }

  /// An agent answered command `id`.
  func acknowledge(_ id: String, _ ack: CommandAck) {
    pendingNodes[id] = nil
    pendingAcks.removeValue(forKey: id)?.resume(returning: ack)
  }

  private func fail(_ id: String, _ error: SchedulerError) {
    pendingNodes[id] = nil
    pendingAcks.removeValue(forKey: id)?.resume(throwing: error)
  }

  /// The node's connection ended: its commands will not be answered on it.
  func failCommands(of node: NodeID) {
    for (id, target) in pendingNodes where target == node {
      fail(
        id,
        SchedulerError(
          .nodeNotConnected,
          "node '\(node)' disconnected before answering command \(id); check its sched-agent"))
    }
  }
}
