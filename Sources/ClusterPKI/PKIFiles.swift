import Crypto
import Foundation
import X509

/// Key and certificate files: written atomically (write, fsync, rename) with the mode asked
/// for, keys 0600 in a 0700 directory.
public enum PKIFiles {
  /// Replaces `path` so that a crash leaves the old content or the new, never half of it.
  public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws(PKIError) {
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw PKIError(.files, "cannot create \(directory): \(error)")
    }
    let temp = path + ".tmp"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, mode)
    guard fd >= 0 else {
      throw PKIError(.files, "cannot write \(temp): \(String(cString: strerror(errno)))")
    }
    // The mode asked for, whatever the umask took away or a file left before had.
    fchmod(fd, mode)
    let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
    let synced = fsync(fd)
    close(fd)
    guard written == data.count, synced == 0 else {
      throw PKIError(.files, "cannot write \(temp): \(String(cString: strerror(errno)))")
    }
    guard rename(temp, path) == 0 else {
      throw PKIError(
        .files, "cannot rename \(temp) to \(path): \(String(cString: strerror(errno)))")
    }
  }

  /// A directory only its owner may enter.
  public static func privateDirectory(_ path: String) throws(PKIError) {
    do {
      try FileManager.default.createDirectory(
        atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    } catch {
      throw PKIError(.files, "cannot create \(path): \(error)")
    }
    chmod(path, 0o700)
  }

  static func read(_ path: String) throws(PKIError) -> String? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw PKIError(.files, "cannot read \(path): \(error)")
    }
  }

  /// The scheduler's CA in `directory` (`ca.pem`, `ca.key`), made on first use.
  public static func authority(in directory: String, now: Date) throws(PKIError)
    -> (authority: CertificateAuthority, created: Bool)
  {
    let certificatePath = directory + "/ca.pem"
    let keyPath = directory + "/ca.key"
    let certificate = try read(certificatePath)
    let key = try read(keyPath)
    switch (certificate, key) {
    case (let certificate?, let key?):
      do {
        return (try CertificateAuthority(certificatePEM: certificate, keyPEM: key), false)
      } catch {
        throw PKIError(
          error.code, "\(error.message) (in \(directory)); restore both files from a backup")
      }
    case (nil, nil):
      try privateDirectory(directory)
      let authority = try CertificateAuthority.create(now: now)
      try write(Data(authority.keyPEM.utf8), to: keyPath, mode: 0o600)
      try write(Data(try authority.certificate.pem.utf8), to: certificatePath, mode: 0o644)
      return (authority, true)
    default:
      throw PKIError(
        .files,
        "\(directory) holds only one of ca.pem and ca.key: restore the other from a backup (a new CA would cut off every joined node)"
      )
    }
  }
}

/// A node's or router's credentials: the cluster's CA, its own certificate and its key, kept in
/// a directory of its own (`ca.pem`, `node.pem`, `node.key` 0600).
public struct NodeCredentials: Sendable {
  public var authority: Certificate
  public var certificate: Certificate
  public var keyPEM: String
  public let identity: PeerIdentity

  public init(authority: Certificate, certificate: Certificate, keyPEM: String) throws(PKIError) {
    self.authority = authority
    self.certificate = certificate
    self.keyPEM = keyPEM
    self.identity = try PeerIdentity(certificate: certificate)
  }

  /// Credentials from the chain the scheduler sent (leaf first, the CA last) and the key the
  /// request was made with. The chain must end in the CA `expectedCA` names, when given.
  public init(chainPEM: String, key: P256.Signing.PrivateKey, expectedCA: String?)
    throws(PKIError)
  {
    let chain = try Certificate.chain(pem: chainPEM)
    guard chain.count >= 2, let leaf = chain.first, let root = chain.last else {
      throw PKIError(.badCertificate, "the scheduler sent a certificate without its CA")
    }
    if let expectedCA, try Fingerprint.of(root) != expectedCA {
      throw PKIError(.badCertificate, "the scheduler sent a certificate of another CA")
    }
    guard leaf.publicKey == Certificate.PublicKey(key.publicKey) else {
      throw PKIError(.badCertificate, "the scheduler sent a certificate for another key")
    }
    try self.init(authority: root, certificate: leaf, keyPEM: key.pemRepresentation)
  }

  /// The credentials in `directory`, or nil when it holds none.
  public static func load(from directory: String) throws(PKIError) -> NodeCredentials? {
    let ca = try PKIFiles.read(directory + "/ca.pem")
    let certificate = try PKIFiles.read(directory + "/node.pem")
    let key = try PKIFiles.read(directory + "/node.key")
    guard let ca, let certificate, let key else { return nil }
    do {
      return try NodeCredentials(
        authority: try Certificate(pemEncoded: ca),
        certificate: try Certificate(pemEncoded: certificate), keyPEM: key)
    } catch let error as PKIError {
      throw error
    } catch {
      throw PKIError(
        .badCertificate,
        "cannot read the credentials in \(directory): \(error); remove the directory to join again with a join token"
      )
    }
  }

  /// Writes the credentials: the key first, then the certificate, so a crash between leaves
  /// a pair that does not match, which `load` callers treat as none.
  public func save(to directory: String) throws(PKIError) {
    try PKIFiles.privateDirectory(directory)
    try PKIFiles.write(Data(try authority.pem.utf8), to: directory + "/ca.pem")
    try PKIFiles.write(Data(keyPEM.utf8), to: directory + "/node.key", mode: 0o600)
    try PKIFiles.write(Data(try certificate.pem.utf8), to: directory + "/node.pem")
  }

  /// True when the key in the files is the certificate's.
  public var keyMatches: Bool {
    guard let key = try? P256.Signing.PrivateKey(pemRepresentation: keyPEM) else { return false }
    return certificate.publicKey == Certificate.PublicKey(key.publicKey)
  }
}
