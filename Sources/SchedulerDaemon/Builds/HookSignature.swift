import Blobs
import Crypto
import Foundation

/// A webhook's signature, as git hosts sign theirs: `sha256=` and the hex HMAC-SHA256 of the
/// body under the app's hook secret (GitHub's `X-Hub-Signature-256`; Gitea and Forgejo send
/// the same). Compared in constant time.
enum HookSignature {
  static func sign(_ body: [UInt8], secret: String) -> String {
    let mac = HMAC<SHA256>.authenticationCode(
      for: body, using: SymmetricKey(data: Data(secret.utf8)))
    return "sha256=" + BlobHash.hex(mac)
  }

  /// Whether `header` is the signature of `body` under `secret`.
  static func verify(_ header: String?, body: [UInt8], secret: String) -> Bool {
    guard var given = header?.trimmingCharacters(in: .whitespaces).lowercased() else {
      return false
    }
    if !given.hasPrefix("sha256=") { given = "sha256=" + given }
    let expected = sign(body, secret: secret)
    guard given.utf8.count == expected.utf8.count else { return false }
    return zip(given.utf8, expected.utf8).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
  }

  /// A fresh secret: 32 random bytes, hex.
  static func newSecret() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator))
    }
    .joined()
  }
}
