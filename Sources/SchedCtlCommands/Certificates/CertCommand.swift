import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient

/// `schedctl cert`: the certificates routers serve HTTPS with.
struct CertCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cert",
    abstract: "List, show, upload and remove the certificates routers serve HTTPS with.",
    discussion: """
      Routers started with --tls-listen serve HTTPS for every name that has a certificate \\
      here, chosen by the name the client asks for (SNI); a wildcard (*.example.com) serves \\
      the names one level below it. The scheduler keeps certificates and keys sealed and \\
      hands them to every router over the cluster's TLS; routers keep them (0600) and serve \\
      them at once after a restart. A certificate is checked before it is taken: a chain \\
      that does not name the host, an expired one or a key that is not the leaf's is refused \\
      (an event says why) and the one in use serves on.
      """,
    subcommands: [
      CertListCommand.self, CertShowCommand.self, CertUploadCommand.self, CertRemoveCommand.self,
    ])
}

/// `schedctl cert list`.
struct CertListCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "Every name's certificate: issuer, expiry, source.",
    aliases: ["ls"])

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let certificates = try await Exit.guarding { try await client.certificates() }
    if global.output == .json { return try printJSON(certificates) }
    guard !certificates.isEmpty else {
      print("no certificates: schedctl cert upload NAME --chain FILE --key FILE adds one")
      return
    }
    var table = Table("NAME", "EXPIRES", "IN", "SOURCE", "ISSUER")
    for certificate in certificates {
      table.add(
        certificate.name, certificate.notAfter.formatted(.iso8601),
        Self.remaining(certificate.notAfter), certificate.source, certificate.issuer)
    }
    print(table.render())
  }

  static func remaining(_ date: Date, now: Date = Date()) -> String {
    let seconds = date.timeIntervalSince(now)
    guard seconds > 0 else { return "expired" }
    let days = Int(seconds / 86400)
    return days >= 1 ? "\(days)d" : "\(Int(seconds / 3600))h"
  }
}

/// `schedctl cert show NAME`.
struct CertShowCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show", abstract: "One name's certificate.")

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The host name (as listed).")
  var name: String

  func run() async throws {
    let client = try global.client()
    let certificate = try await Exit.guarding { try await client.certificate(name) }
    if global.output == .json { return try printJSON(certificate) }
    print(
      """
      name:        \(certificate.name)
      issuer:      \(certificate.issuer)
      valid from:  \(certificate.notBefore.formatted(.iso8601))
      valid until: \(certificate.notAfter.formatted(.iso8601)) (\(CertListCommand.remaining(certificate.notAfter)))
      source:      \(certificate.source)
      sha256:      \(certificate.fingerprint)
      """)
  }
}

/// `schedctl cert upload NAME --chain FILE --key FILE`.
struct CertUploadCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "upload",
    abstract: "Give routers a certificate for a host name (or *.domain).",
    discussion: """
      The chain file holds the host's certificate first, then its intermediates (PEM, as \\
      certbot's fullchain.pem); the key file its unencrypted private key. Uploading again \\
      replaces it (a renewal); open connections keep the one they started with.
        schedctl cert upload www.example.com --chain fullchain.pem --key privkey.pem
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The host name it serves.")
  var name: String

  @Option(help: "PEM file: the certificate, then its intermediates.")
  var chain: String

  @Option(help: "PEM file: the certificate's private key.")
  var key: String

  func run() async throws {
    guard let chainText = FileManager.default.contents(atPath: chain) else {
      throw ValidationError("cannot read --chain \(chain)")
    }
    guard let keyText = FileManager.default.contents(atPath: key) else {
      throw ValidationError("cannot read --key \(key)")
    }
    let client = try global.client()
    let view = try await Exit.guarding {
      try await client.uploadCertificate(
        name, chain: String(decoding: chainText, as: UTF8.self),
        key: String(decoding: keyText, as: UTF8.self))
    }
    if global.output == .json { return try printJSON(view) }
    print(
      "routers serve \(view.name) with the certificate from \(view.issuer), valid until \(view.notAfter.formatted(.iso8601))"
    )
  }
}

/// `schedctl cert rm NAME`.
struct CertRemoveCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rm", abstract: "Stop serving HTTPS for a name: its certificate is removed.")

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The host name.")
  var name: String

  func run() async throws {
    let client = try global.client()
    try await Exit.guarding { try await client.removeCertificate(name) }
    if global.output == .json { return try printJSON(["removed": name]) }
    print("removed the certificate for \(name)")
  }
}
