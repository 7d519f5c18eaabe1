import Crypto
import SwiftASN1
import X509

/// SHA-256 fingerprints of certificates, as join tokens carry them.
public enum Fingerprint {
  /// Lowercase hex of the SHA-256 of `der`.
  public static func sha256(_ der: some Sequence<UInt8>) -> String {
    SHA256.hash(data: Array(der)).map { byte in
      let digits = Array("0123456789abcdef")
      return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }.joined()
  }

  /// The fingerprint of a certificate (of its DER encoding).
  public static func of(_ certificate: Certificate) throws(PKIError) -> String {
    sha256(try certificate.derBytes)
  }
}

extension Certificate {
  /// The certificate's DER encoding.
  public var derBytes: [UInt8] {
    get throws(PKIError) {
      do {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
      } catch {
        throw PKIError(.badCertificate, "cannot encode a certificate: \(error)")
      }
    }
  }

  /// The certificate as one PEM block.
  public var pem: String {
    get throws(PKIError) {
      do { return try serializeAsPEM().pemString } catch {
        throw PKIError(.badCertificate, "cannot encode a certificate: \(error)")
      }
    }
  }

  /// Every certificate in `text`, one PEM block each, in order.
  public static func chain(pem text: String) throws(PKIError) -> [Certificate] {
    do {
      let documents = try PEMDocument.parseMultiple(pemString: text)
      let certificates = try documents.map { try Certificate(derEncoded: $0.derBytes) }
      guard !certificates.isEmpty else {
        throw PKIError(.badCertificate, "no certificate in the PEM text")
      }
      return certificates
    } catch let error as PKIError {
      throw error
    } catch {
      throw PKIError(.badCertificate, "cannot read the certificates: \(error)")
    }
  }
}
