import Foundation

/// A certificate the cluster CA issued to a node or router, as the scheduler records it: the
/// serial it checks on every connection, and when it was revoked (a removed node's).
public struct IssuedCertificate: Codable, Sendable, Hashable {
  /// Lowercase hex of the serial number.
  public var serial: String
  /// `agent` or `router`.
  public var role: String
  /// The node id, or the router's name.
  public var name: String
  public var issuedAt: Date
  public var notAfter: Date
  public var revokedAt: Date?

  public init(
    serial: String, role: String, name: String, issuedAt: Date, notAfter: Date,
    revokedAt: Date? = nil
  ) {
    self.serial = serial
    self.role = role
    self.name = name
    self.issuedAt = issuedAt
    self.notAfter = notAfter
    self.revokedAt = revokedAt
  }
}
