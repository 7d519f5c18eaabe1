import Foundation
import X509

/// What a cluster certificate says about its holder: the role it was issued for and the
/// node's id (or the router's name), read from the subject (OU = role, CN = name).
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
  /// The roles the cluster CA issues certificates for.
  public enum Role: String, Sendable, Hashable, CaseIterable {
    case agent, router, scheduler
  }

  public var role: Role
  public var name: String
  /// The certificate's serial number, hex, as the scheduler records it.
  public var serial: String
  public var notBefore: Date
  public var notAfter: Date

  public init(role: Role, name: String, serial: String, notBefore: Date, notAfter: Date) {
    self.role = role
    self.name = name
    self.serial = serial
    self.notBefore = notBefore
    self.notAfter = notAfter
  }

  /// Reads a certificate the cluster CA issued.
  public init(certificate: Certificate) throws(PKIError) {
    var names: [String] = []
    var units: [String] = []
    for rdn in certificate.subject {
      for attribute in rdn {
        if attribute.type == .RDNAttributeType.commonName, let value = String(attribute.value) {
          names.append(value)
        }
        if attribute.type == .RDNAttributeType.organizationalUnitName,
          let value = String(attribute.value)
        {
          units.append(value)
        }
      }
    }
    guard names.count == 1, let name = names.first, !name.isEmpty else {
      throw PKIError(.badCertificate, "the certificate names no node (one CN is expected)")
    }
    guard units.count == 1, let role = units.first.flatMap(Role.init(rawValue:)) else {
      throw PKIError(
        .badCertificate,
        "the certificate of '\(name)' names no cluster role (OU agent, router or scheduler)")
    }
    self.init(
      role: role, name: name, serial: certificate.serialNumber.hex,
      notBefore: certificate.notValidBefore, notAfter: certificate.notValidAfter)
  }

  /// The part of its life a certificate has used at `now`, 0 at issue and 1 at expiry.
  public func lifeUsed(at now: Date) -> Double {
    let total = notAfter.timeIntervalSince(notBefore)
    guard total > 0 else { return 1 }
    return now.timeIntervalSince(notBefore) / total
  }

  public var description: String { "\(role.rawValue) '\(name)' (certificate \(serial))" }
}

extension Certificate.SerialNumber {
  /// Lowercase hex of the serial's bytes.
  public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }
}
