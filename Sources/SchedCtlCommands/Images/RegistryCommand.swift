import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient
import SchedModel

/// `schedctl registry`: credentials for private registries.
struct RegistryCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "registry", abstract: "Hold credentials for private registries, for every node.",
    discussion: """
      An image whose name starts with a registry (registry.example.com/web:2) is pulled by \
      each node's engine from that registry. The scheduler keeps one credential per registry \
      and hands it only to the nodes whose slots need it; it is never printed or logged. \
      Images pushed with schedctl image push need no registry at all.
      """,
    subcommands: [RegistryLoginCommand.self, RegistryListCommand.self, RegistryLogoutCommand.self])
}

struct RegistryLoginCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "login", abstract: "Store a user and password for a registry.",
    usage:
      "echo \"$PASSWORD\" | schedctl registry login <registry> --username <user> --password-stdin",
    discussion: "The password is read from standard input, so it stays out of the shell history.")

  @OptionGroup var global: GlobalOptions

  @Argument(
    help: "The registry host, with its port when not 443: registry.example.com, 10.0.0.5:5000.")
  var registry: String

  @Option(help: "The user name.")
  var username: String

  @Flag(help: "Read the password from standard input (required).")
  var passwordStdin = false

  func validate() throws {
    guard passwordStdin else {
      throw ValidationError("give the password on standard input with --password-stdin")
    }
    if let problem = ImageReference.domainProblem(Substring(registry)) {
      throw ValidationError(problem)
    }
  }

  func run() async throws {
    let input = FileHandle.standardInput.readDataToEndOfFile()
    let password = String(decoding: input, as: UTF8.self)
      .trimmingCharacters(in: .newlines)
    guard !password.isEmpty else { throw ValidationError("standard input held no password") }
    let client = try global.client()
    let view = try await Exit.guarding {
      try await client.registryLogin(registry, username: username, password: password)
    }
    if global.output == .json { return try printJSON(view) }
    print("nodes pull from \(view.registry) as \(view.username)")
  }
}

struct RegistryListCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ls", abstract: "List the registries credentials are held for.",
    usage: "schedctl registry ls [<global options>]")

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let registries = try await Exit.guarding { try await client.registries() }
    if global.output == .json { return try printJSON(registries) }
    guard !registries.isEmpty else {
      print("no registry credentials; add some with schedctl registry login REGISTRY")
      return
    }
    var table = Table("REGISTRY", "USER")
    for view in registries { table.add(view.registry, view.username) }
    print(table.render())
  }
}

struct RegistryLogoutCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "logout", abstract: "Forget a registry's credentials.",
    usage: "schedctl registry logout <registry> [<global options>]")

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The registry host.")
  var registry: String

  func run() async throws {
    let client = try global.client()
    try await Exit.guarding { try await client.registryLogout(registry) }
    if global.output == .table { print("forgot the credentials of \(registry)") }
  }
}
