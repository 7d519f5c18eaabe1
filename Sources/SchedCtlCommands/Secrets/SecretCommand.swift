import ArgumentParser
import Foundation
import SchedClient

#if canImport(Glibc)
  import Glibc
#endif

/// `schedctl secret`: an app's secrets.
struct SecretCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "secret",
    abstract: "Set, list and remove an app's secrets (values never on the command line).",
    discussion: """
      The app's spec names its secrets; their values live in the scheduler only, sealed \\
      (AES-256-GCM, with a key kept outside the database: secrets.key in the PKI directory). \\
      They go to the nodes that run the app, over the cluster's TLS, and never appear in API \\
      answers, status, events, logs or the dashboard.

        secrets: [DB_PASSWORD]        # environment variables of the slots (and tests)
        secret_files: [TLS_KEY]       # read-only files /run/secrets/TLS_KEY instead

      A changed secret reaches the slots at the next deploy. Environment variables show in \\
      `docker inspect` on the node; files do not.
      """,
    subcommands: [SecretSetCommand.self, SecretListCommand.self, SecretRemoveCommand.self])
}

/// `schedctl secret set APP NAME`.
struct SecretSetCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "set",
    abstract: "Set a secret of an app from standard input or a file.",
    discussion: """
      The value is read from --from-file, or else from standard input (typed without echo \\
      when it is a terminal); never from the command line, where shell history and ps would \\
      keep it. One trailing newline is dropped (echo adds one) unless --keep-newline.
        schedctl secret set web DB_PASSWORD < db-password.txt
        printf %s "$PASSWORD" | schedctl secret set web DB_PASSWORD
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  @Argument(help: "The secret's name, as the spec names it (like DB_PASSWORD).")
  var name: String

  @Option(help: "Read the value from this file instead of standard input.")
  var fromFile: String?

  @Flag(help: "Keep a trailing newline in the value.")
  var keepNewline = false

  func run() async throws {
    let client = try global.client()
    var value = try readValue()
    if !keepNewline {
      if value.hasSuffix("\r\n") {
        value.removeLast(2)
      } else if value.hasSuffix("\n") {
        value.removeLast()
      }
    }
    guard !value.isEmpty else {
      throw ValidationError("the value is empty: give it on standard input or with --from-file")
    }
    try await Exit.guarding { try await client.setSecret(app: app, name: name, value: value) }
    if global.output == .json { return try printJSON(["set": "\(app)/\(name)"]) }
    print(
      "set secret \(name) of \(app) (\(value.utf8.count) bytes); it reaches the slots at the next deploy"
    )
  }

  func readValue() throws -> String {
    if let fromFile {
      guard let data = FileManager.default.contents(atPath: fromFile) else {
        throw ValidationError("cannot read --from-file \(fromFile)")
      }
      return String(decoding: data, as: UTF8.self)
    }
    if isatty(STDIN_FILENO) == 1 {
      FileHandle.standardError.write(Data("value of \(name) for \(app) (not shown): ".utf8))
      defer { FileHandle.standardError.write(Data("\n".utf8)) }
      return Self.readHiddenLine() ?? ""
    }
    return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
  }

  /// One line from the terminal with echo off.
  static func readHiddenLine() -> String? {
    var saved = termios()
    tcgetattr(STDIN_FILENO, &saved)
    var quiet = saved
    quiet.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
    defer { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
    return readLine(strippingNewline: true)
  }
}

/// `schedctl secret ls APP`.
struct SecretListCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ls", abstract: "List the names of an app's secrets (never their values).")

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  func run() async throws {
    let client = try global.client()
    let names = try await Exit.guarding { try await client.secrets(app: app) }
    if global.output == .json { return try printJSON(names) }
    print(names.isEmpty ? "\(app) has no secrets" : names.joined(separator: "\n"))
  }
}

/// `schedctl secret rm APP NAME`.
struct SecretRemoveCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rm",
    abstract: "Remove a secret of an app; slots deployed from then on do not get it.",
    discussion: "A deploy of an app whose spec still names it is refused until it is set again.")

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  @Argument(help: "The secret's name.")
  var name: String

  func run() async throws {
    let client = try global.client()
    try await Exit.guarding { try await client.removeSecret(app: app, name: name) }
    if global.output == .json { return try printJSON(["removed": "\(app)/\(name)"]) }
    print("removed secret \(name) of \(app)")
  }
}
