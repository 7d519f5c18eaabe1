import Synchronization

/// A one-way switch shared between tasks: set once, read from anywhere.
public final class OnceFlag: Sendable {
  private let value = Atomic<Bool>(false)

  public init() {}

  public func set() { value.store(true, ordering: .releasing) }
  public var isSet: Bool { value.load(ordering: .acquiring) }
}
