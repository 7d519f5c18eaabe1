/// One color of one app: the key of a set wherever sets are kept (the scheduler's state, the
/// router's balancers and counters, samples).
public struct SetKey: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var app: String
  public var color: Color

  public init(app: String, color: Color) {
    self.app = app
    self.color = color
  }

  /// `APP/COLOR`, as events and logs name a set.
  public var description: String { "\(app)/\(color.rawValue)" }

  public static func < (lhs: SetKey, rhs: SetKey) -> Bool {
    (lhs.app, lhs.color) < (rhs.app, rhs.color)
  }
}

extension SlotID {
  /// The set this slot belongs to.
  public var set: SetKey { SetKey(app: app, color: color) }
}

extension SetRecord {
  /// The key of this set.
  public var key: SetKey { SetKey(app: app, color: color) }
}
