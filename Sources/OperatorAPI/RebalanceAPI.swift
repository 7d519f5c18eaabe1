import SchedModel

/// `GET /v1/rebalance`: a placement of every live set on as few nodes as the scheduler can
/// find, computed with the whole picture, and the moves that carry it out.
public struct RebalancePlan: Codable, Sendable, Equatable {
  /// One live set that goes elsewhere: its slots' nodes now and in the plan.
  public struct Move: Codable, Sendable, Equatable {
    public var app: String
    public var color: Color
    public var from: [NodeID]
    public var to: [NodeID]

    public init(app: String, color: Color, from: [NodeID], to: [NodeID]) {
      self.app = app
      self.color = color
      self.from = from
      self.to = to
    }
  }

  /// A set that is not live and that the rebalance retires (a rollback after it needs a
  /// deploy).
  public struct Standby: Codable, Sendable, Equatable {
    public var app: String
    public var color: Color
    public var nodes: [NodeID]

    public init(app: String, color: Color, nodes: [NodeID]) {
      self.app = app
      self.color = color
      self.nodes = nodes
    }
  }

  /// Ready nodes holding slots now (live or standby).
  public var nodesInUse: Int
  /// Nodes holding slots once the plan is carried out.
  public var nodesAfter: Int
  /// The fewest nodes the live sets could fit on, by total CPU and memory alone.
  public var lowerBound: Int
  public var moves: [Move]
  public var standby: [Standby]
  /// Nodes empty once the plan is carried out that hold slots now: they can be turned off.
  public var freed: [NodeID]
  /// Why there is no plan (an app busy, a set on a node that is down, no packing found); nil
  /// when there is one.
  public var blocked: String?

  public init(
    nodesInUse: Int, nodesAfter: Int, lowerBound: Int, moves: [Move], standby: [Standby],
    freed: [NodeID], blocked: String? = nil
  ) {
    self.nodesInUse = nodesInUse
    self.nodesAfter = nodesAfter
    self.lowerBound = lowerBound
    self.moves = moves
    self.standby = standby
    self.freed = freed
    self.blocked = blocked
  }

  enum CodingKeys: String, CodingKey {
    case moves, standby, freed, blocked
    case nodesInUse = "nodes_in_use"
    case nodesAfter = "nodes_after"
    case lowerBound = "lower_bound"
  }
}

/// `POST /v1/apps/NAME/move`: a copy of the live set on `nodes` (one per slot, in slot order),
/// or, without them, wherever placement puts it but on `avoiding`.
public struct MoveRequest: Codable, Sendable, Equatable {
  public var nodes: [NodeID]?
  public var avoiding: [NodeID]?

  public init(nodes: [NodeID]? = nil, avoiding: [NodeID]? = nil) {
    self.nodes = nodes
    self.avoiding = avoiding
  }
}
