import Foundation

/// One line of the append-only event log: who did what to what, and when.
public struct ClusterEvent: Hashable, Sendable, Codable {
  /// Assigned by the store; nil before the event is written.
  public var seq: Int64?
  public var at: Date
  /// `scheduler`, `node:<id>`, or the operator.
  public var actor: String
  /// Dotted kind: `node.registered`, `node.down`, `node.up`.
  public var kind: String
  /// What the event is about, e.g. a node id.
  public var subject: String
  public var detail: String

  public init(
    seq: Int64? = nil, at: Date, actor: String, kind: String, subject: String, detail: String
  ) {
    self.seq = seq
    self.at = at
    self.actor = actor
    self.kind = kind
    self.subject = subject
    self.detail = detail
  }
}
