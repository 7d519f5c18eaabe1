import Foundation

/// What a new node needs to join: the fingerprint of the cluster's CA, so the node checks the
/// scheduler before it says anything, and the secret the scheduler checks.
/// Written `TRN-1-<64 hex digits of the CA's SHA-256>-<secret>`, like Swarm's `SWMTKN-1-...`.
public struct JoinToken: Sendable, Hashable, CustomStringConvertible {
  public static let prefix = "TRN-1-"

  /// The SHA-256 of the CA certificate's DER bytes, 64 lowercase hex digits.
  public var caFingerprint: String
  public var secret: String

  public init(caFingerprint: String, secret: String) {
    self.caFingerprint = caFingerprint
    self.secret = secret
  }

  public var description: String { Self.prefix + caFingerprint + "-" + secret }

  /// True when `text` looks like a whole token (not a bare secret).
  public static func isToken(_ text: String) -> Bool { text.hasPrefix(prefix) }

  /// Reads a token as `description` writes it.
  public static func parse(_ text: String) throws(PKIError) -> JoinToken {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard trimmed.hasPrefix(prefix) else {
      throw PKIError(
        .badToken,
        "this is not a join token (it does not start with \(prefix)): use the token `schedctl node join-command` or `schedctl token show` prints"
      )
    }
    let rest = trimmed.dropFirst(prefix.count)
    let fingerprint = rest.prefix(64)
    guard fingerprint.count == 64, fingerprint.allSatisfy(\.isHexDigit),
      rest.dropFirst(64).first == "-"
    else {
      throw PKIError(
        .badToken,
        "the join token's CA fingerprint is cut short or damaged (64 hex digits after \(prefix)): copy the whole token again"
      )
    }
    let secret = String(rest.dropFirst(65))
    guard !secret.isEmpty else {
      throw PKIError(.badToken, "the join token has no secret after its CA fingerprint")
    }
    return JoinToken(caFingerprint: fingerprint.lowercased(), secret: secret)
  }

  /// A new secret: 26 characters of base32 (130 bits).
  public static func randomSecret() -> String {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
    var generator = SystemRandomNumberGenerator()
    return String((0..<26).map { _ in alphabet[Int(generator.next() % 32)] })
  }
}
