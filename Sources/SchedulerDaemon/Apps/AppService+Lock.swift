import SchedModel

extension AppService {
  /// Refuses `asked` while a deploy of `name` builds its set or a verification of it runs; a
  /// deploy lock whose set settled (or went) is let go here.
  func checkLock(_ name: String, asked: String) async throws(APIFailure) {
    let now = cluster.now()
    if let running = verifications[name], running.state == .running {
      let lock = AppLock(.verify(id: running.id), holder: running.actor, since: running.startedAt)
      let progress = AppLock.Progress.running(healthy: 0, total: 0)
      throw APIFailure(
        .conflict, lock.refusal(app: name, asked: asked, progress: progress, now: now))
    }
    guard let lock = deployLocks[name] else { return }
    let progress = try await progress(of: lock, app: name)
    guard lock.holds(progress, now: now) else {
      deployLocks[name] = nil
      return
    }
    throw APIFailure(.conflict, lock.refusal(app: name, asked: asked, progress: progress, now: now))
  }

  /// How far a deploy's set has come, from the agents' reports.
  func progress(of lock: AppLock, app name: String) async throws(APIFailure) -> AppLock.Progress {
    guard case .deploy(let deployment, let color) = lock.operation else { return .settled }
    guard
      let view = try await status(name).sets.first(where: {
        $0.color == color && $0.deployment == deployment
      })
    else { return .gone }
    switch view.state {
    case .starting: return .running(healthy: view.healthy, total: view.slots.count)
    case .ready, .degraded: return .settled
    }
  }
}
