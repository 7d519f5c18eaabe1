/// A router's side of the two-phase switch, as a value: the table it serves and the one it was
/// asked to prepare. Events in (prepare, commit, abort, install), results out; no I/O.
public struct RouterTables: Sendable, Hashable {
  public private(set) var current: RouteTable
  public private(set) var pending: RouteTable?

  public init(current: RouteTable = .empty) {
    self.current = current
  }

  /// Phase one: hold `table` ready without serving it. Refused when it is not newer than what
  /// is served; a newer prepare replaces an older pending one.
  public mutating func prepare(_ table: RouteTable, removed: Set<String> = [])
    throws(RouteError)
  {
    guard table.epoch > current.epoch else {
      throw RouteError(
        .staleEpoch,
        "prepare of epoch \(table.epoch) refused: epoch \(current.epoch) is already served")
    }
    if let pending, pending.epoch > table.epoch {
      throw RouteError(
        .staleEpoch,
        "prepare of epoch \(table.epoch) refused: epoch \(pending.epoch) is already prepared")
    }
    try checkKeeps(table, removed: removed)
    pending = table
  }

  /// Phase two: serve the prepared table of `epoch`. Committing the epoch already served is a
  /// no-op (a retried commit), so the scheduler may repeat it safely.
  @discardableResult
  public mutating func commit(epoch: Int64) throws(RouteError) -> RouteTable {
    if epoch == current.epoch { return current }
    guard let pending, pending.epoch == epoch else {
      throw RouteError(
        .notPrepared,
        "commit of epoch \(epoch) refused: \(pending.map { "epoch \($0.epoch) is prepared" } ?? "nothing is prepared")"
      )
    }
    current = pending
    self.pending = nil
    return current
  }

  /// The switch of `epoch` was called off: drop it, keep serving the current table.
  public mutating func abort(epoch: Int64) {
    if pending?.epoch == epoch { pending = nil }
  }

  /// A change that needs no agreement (a slot became healthy or left): serve it at once when it
  /// is newer. Returns whether it was taken; a table that drops a served app is refused.
  @discardableResult
  public mutating func install(_ table: RouteTable, removed: Set<String> = []) throws(RouteError)
    -> Bool
  {
    guard table.epoch > current.epoch else { return false }
    try checkKeeps(table, removed: removed)
    current = table
    if let pending, pending.epoch <= table.epoch { self.pending = nil }
    return true
  }

  /// Every app served now must be in `table`, unless the scheduler names it in `removed` (it
  /// deleted the app). A table without them comes from a scheduler that lost its state.
  func checkKeeps(_ table: RouteTable, removed: Set<String>) throws(RouteError) {
    let kept = Set(table.apps.map(\.app))
    let dropped = current.apps.map(\.app).filter { !kept.contains($0) && !removed.contains($0) }
    guard dropped.isEmpty else {
      throw RouteError(
        .dropsApps,
        "table of epoch \(table.epoch) refused: it leaves out \(dropped.joined(separator: ", ")), which this router serves, and the scheduler did not say they were deleted; epoch \(current.epoch) stays served"
      )
    }
  }
}
