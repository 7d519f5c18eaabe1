import NIOCore
import Synchronization

/// An `EpollLoop`'s timers: a binary heap by deadline, and the jobs by id so that a cancelled
/// one is simply dropped (its heap entry is skipped when it comes up).
struct TimerQueue {
  private var heap: [(deadline: NIODeadline, id: Int)] = []
  private var jobs: [Int: () -> Void] = [:]
  /// The top entry's id once it was found live: the loop asks for `earliest` on every turn,
  /// and the look-up in `jobs` is then skipped until the top changes or is cancelled.
  private var liveTop = -1
  private static let ids = Atomic<Int>(0)

  static func nextID() -> Int { ids.add(1, ordering: .relaxed).newValue }

  /// The deadline of the next timer, if any.
  var earliest: NIODeadline? {
    mutating get {
      while let top = heap.first, top.id != liveTop {
        if jobs[top.id] == nil { pop() } else { liveTop = top.id }
      }
      return heap.first?.deadline
    }
  }

  mutating func add(id: Int, at deadline: NIODeadline, _ job: @escaping () -> Void) {
    jobs[id] = job
    heap.append((deadline, id))
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard heap[child].deadline < heap[parent].deadline else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  /// Takes the timer out; false when it already ran or was cancelled.
  mutating func cancel(_ id: Int) -> Bool {
    if id == liveTop { liveTop = -1 }
    return jobs.removeValue(forKey: id) != nil
  }

  /// The jobs due by `now`, taken out in deadline order; nil when none is.
  mutating func takeDue(now: NIODeadline) -> [() -> Void]? {
    var due: [() -> Void]? = nil
    while let top = heap.first, top.deadline <= now {
      pop()
      if let job = jobs.removeValue(forKey: top.id) { due = (due ?? []) + [job] }
    }
    return due
  }

  private mutating func pop() {
    let last = heap.removeLast()
    guard !heap.isEmpty else { return }
    heap[0] = last
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var smallest = parent
      if left < heap.count, heap[left].deadline < heap[smallest].deadline { smallest = left }
      if right < heap.count, heap[right].deadline < heap[smallest].deadline { smallest = right }
      guard smallest != parent else { return }
      heap.swapAt(parent, smallest)
      parent = smallest
    }
  }
}
