import OperatorAPI
import SchedWire
import Synchronization

/// Requests sent to routers and waiting for their answers (`route_ack`, `drained`), gathered
/// per round: the waiting caller wakes once, when the last answer is in or the timeout passed.
/// Lock-based rather than an actor, so an answer is settled on the event loop that read it
/// (`RouterAnswerTap`) and the waiting switch goes on there, with no hop through a task.
///
/// A round is registered (`expect`) before its requests are written, so an answer read before
/// the caller starts to `wait` is kept, not lost.
final class RouterAnswers: Sendable {
  enum Failure: Error, Sendable {
    case left
    case timedOut
  }

  typealias Results = [(String, Result<ClusterMessage, Failure>)]

  /// A request to one router: the frame id, the router's name, its connection.
  struct Request: Sendable {
    var id: String
    var router: String
    var session: ObjectIdentifier
  }

  /// A registered round, to wait for.
  struct Round: Sendable {
    fileprivate let key: Int
  }

  private struct Gathering {
    var results: Results = []
    var waiting: Set<String>
    var continuation: CheckedContinuation<Results, Never>?
    var timer: Task<Void, Never>?
  }

  private struct State {
    var pending: [String: (request: Request, gathering: Int)] = [:]
    var gatherings: [Int: Gathering] = [:]
    var counter = 0
  }

  private let state = Mutex(State())

  /// Registers a round of `requests`; routers in `gone` count as left at once.
  func expect(_ requests: [Request], gone: [String]) -> Round {
    state.withLock { state in
      state.counter += 1
      var gathering = Gathering(waiting: Set(requests.map(\.router)))
      for name in gone { gathering.results.append((name, .failure(.left))) }
      for request in requests { state.pending[request.id] = (request, state.counter) }
      state.gatherings[state.counter] = gathering
      return Round(key: state.counter)
    }
  }

  /// Every answer of `round`, once the last is in or `timeout` passed (those missing then
  /// count as timed out).
  func wait(_ round: Round, timeout: Duration) async -> Results {
    await withCheckedContinuation { continuation in
      let done: Results? = state.withLock { state in
        guard let gathering = state.gatherings[round.key] else { return [] }
        guard !gathering.waiting.isEmpty else {
          state.gatherings.removeValue(forKey: round.key)
          return gathering.results
        }
        state.gatherings[round.key]?.continuation = continuation
        return nil
      }
      if let done {
        continuation.resume(returning: done)
        return
      }
      let timer = Task { [weak self] in
        try? await Task.sleep(for: timeout)
        guard !Task.isCancelled else { return }
        self?.expire(round.key)
      }
      let running = state.withLock { state -> Bool in
        guard state.gatherings[round.key] != nil else { return false }
        state.gatherings[round.key]?.timer = timer
        return true
      }
      if !running { timer.cancel() }
    }
  }

  /// Router connection `session` answered request `id`. False when nothing waits for that id
  /// from that connection (it timed out, or another connection tries to answer it).
  @discardableResult
  func answered(_ id: String, _ message: ClusterMessage, from session: ObjectIdentifier) -> Bool {
    let (taken, done) = state.withLock { state -> (Bool, Gathering?) in
      guard let entry = state.pending[id], entry.request.session == session else {
        return (false, nil)
      }
      state.pending.removeValue(forKey: id)
      return (
        true,
        Self.settle(&state, entry.gathering, router: entry.request.router, .success(message))
      )
    }
    if let done { Self.resume(done) }
    return taken
  }

  /// The connection `session` closed: its requests count as left.
  func left(_ session: ObjectIdentifier) {
    let done = state.withLock { state -> [Gathering] in
      var done: [Gathering] = []
      for (id, entry) in state.pending where entry.request.session == session {
        state.pending.removeValue(forKey: id)
        if let gathering = Self.settle(
          &state, entry.gathering, router: entry.request.router, .failure(.left))
        {
          done.append(gathering)
        }
      }
      return done
    }
    done.forEach(Self.resume)
  }

  private func expire(_ key: Int) {
    let done = state.withLock { state -> Gathering? in
      guard var gathering = state.gatherings.removeValue(forKey: key) else { return nil }
      for router in gathering.waiting { gathering.results.append((router, .failure(.timedOut))) }
      gathering.waiting = []
      state.pending = state.pending.filter { $0.value.gathering != key }
      return gathering
    }
    if let done { Self.resume(done) }
  }

  /// Records one router's outcome. When it was the last one awaited and the caller is already
  /// waiting, returns the gathering to resume; a round nobody waits for yet keeps its results
  /// for `wait`.
  private static func settle(
    _ state: inout State, _ key: Int, router: String,
    _ result: Result<ClusterMessage, Failure>
  ) -> Gathering? {
    guard var gathering = state.gatherings[key], gathering.waiting.remove(router) != nil else {
      return nil
    }
    gathering.results.append((router, result))
    guard gathering.waiting.isEmpty, gathering.continuation != nil else {
      state.gatherings[key] = gathering
      return nil
    }
    state.gatherings.removeValue(forKey: key)
    return gathering
  }

  /// Wakes the waiter, outside the lock.
  private static func resume(_ gathering: Gathering) {
    gathering.timer?.cancel()
    gathering.continuation?.resume(returning: gathering.results)
  }
}
