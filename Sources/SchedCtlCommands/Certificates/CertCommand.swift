import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient

/// `schedctl cert`: the certificates routers serve HTTPS with.
struct CertCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cert",
    abstract: "List, show, upload, renew and remove the certificates routers serve HTTPS with.",
    discussion: """
      Routers started with --tls-listen serve HTTPS for every name that has a certificate \\
      here, chosen by the name the client asks for (SNI); a wildcard (*.example.com) serves \\
      the names one level below it. The scheduler keeps certificates and keys sealed and \\
      hands them to every router over the cluster's TLS; routers keep them (0600) and serve \\
      them at once after a restart. A certificate is checked before it is taken: a chain \\
      that does not name the host, an expired one or a key that is not the leaf's is refused \\
      (an event says why) and the one in use serves on.

      With schedd --acme-directory, the scheduler obtains certificates itself for the hosts \
      of every app whose spec says https: {acme: true}: one order per name for the whole \
      cluster, the HTTP-01 challenge answered by every router on its plain listener (the \
      name must resolve to the routers and port 80 reach them), renewed at two thirds of \
      the life and retried with backoff on failure. `cert list` shows each such name's \
      state and next attempt; `cert renew NAME` orders one now.
      """,
    subcommands: [
      CertListCommand.self, CertShowCommand.self, CertUploadCommand.self, CertRenewCommand.self,
      CertRemoveCommand.self,
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
    let status = try await Exit.guarding { try await client.certificateStatus() }
    if global.output == .json { return try printJSON(status.certificates) }
    guard !status.certificates.isEmpty || !status.acme.isEmpty else {
      print(
        "no certificates: schedctl cert upload NAME --chain FILE --key FILE adds one, or set https: {acme: true} in an app's spec with schedd --acme-directory"
      )
      return
    }
    print(Self.render(status))
  }

  /// One row per name: its certificate, and for ACME names the state and next attempt.
  static func render(_ status: CertificatesResponse, now: Date = Date()) -> String {
    let acme = Dictionary(uniqueKeysWithValues: status.acme.map { ($0.name, $0) })
    var table = Table("NAME", "EXPIRES", "IN", "SOURCE", "ISSUER", "ACME")
    var names = Set<String>()
    for certificate in status.certificates {
      names.insert(certificate.name)
      table.add(
        certificate.name, certificate.notAfter.formatted(.iso8601),
        remaining(certificate.notAfter, now: now), certificate.source, certificate.issuer,
        acme[certificate.name].map { acmeColumn($0, now: now) } ?? "-")
    }
    for name in status.acme where !names.contains(name.name) {
      table.add(name.name, "-", "-", "-", "-", acmeColumn(name, now: now))
    }
    var out = table.render()
    for name in status.acme where name.lastError != nil {
      out += "\n\(name.name): \(name.lastError ?? "")"
    }
    return out
  }

  static func acmeColumn(_ name: ACMENameView, now: Date) -> String {
    let next = name.nextAttempt.map { $0 <= now ? "now" : "in " + remaining($0, now: now) } ?? "-"
    switch name.state {
    case "failing": return "failing (\(name.failures)x), retry \(next)"
    case "pending": return "ordering \(next)"
    default: return "renews \(next)"
    }
  }

  static func remaining(_ date: Date, now: Date = Date()) -> String {
    let seconds = date.timeIntervalSince(now)
    guard seconds > 0 else { return "expired" }
    let days = Int(seconds / 86400)
    if days >= 1 { return "\(days)d" }
    if seconds >= 3600 { return "\(Int(seconds / 3600))h" }
    return seconds >= 60 ? "\(Int(seconds / 60))m" : "\(Int(seconds))s"
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

/// `schedctl cert renew NAME`.
struct CertRenewCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "renew",
    abstract: "Order a new certificate for a name over ACME now, and wait for it.",
    discussion: """
      For a host of an app with https: {acme: true}, on a scheduler started with \
      --acme-directory. Renewals happen by themselves at two thirds of a certificate's life; \
      this is for a key you want replaced, or to see a failing name's error at once. If the \
      order fails, the certificate in use serves on and the error says why.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The host name.")
  var name: String

  func run() async throws {
    let client = try global.client()
    let view = try await Exit.guarding { try await client.renewCertificate(name) }
    if global.output == .json { return try printJSON(view) }
    print(
      "routers serve \(view.name) with a new certificate from \(view.issuer), valid until \(view.notAfter.formatted(.iso8601))"
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
