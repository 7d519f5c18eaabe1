import Foundation

/// An app as the scheduler keeps it: its spec and which color serves production.
public struct AppRecord: Codable, Sendable, Hashable {
  public var spec: AppSpec
  /// The color serving production; nil before the first deploy.
  public var live: Color?
  public var updatedAt: Date

  public init(spec: AppSpec, live: Color? = nil, updatedAt: Date) {
    self.spec = spec
    self.live = live
    self.updatedAt = updatedAt
  }

  public var name: String { spec.name }
}

/// One color of an app as deployed: which image, under which deployment id.
public struct SetRecord: Codable, Sendable, Hashable {
  public var app: String
  public var color: Color
  public var deployment: String
  public var image: String
  public var createdAt: Date

  public init(app: String, color: Color, deployment: String, image: String, createdAt: Date) {
    self.app = app
    self.color = color
    self.deployment = deployment
    self.image = image
    self.createdAt = createdAt
  }
}
