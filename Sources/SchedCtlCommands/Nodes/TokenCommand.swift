import ArgumentParser
import Foundation
import OperatorAPI
import SchedModel

extension OperatorRole: ExpressibleByArgument {}

/// `schedctl token`: the cluster's tokens.
struct TokenCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "token",
    abstract: "Make, list and revoke API tokens; rotate the tokens nodes and routers join with.",
    discussion: """
      Every API request is made with a token of a role: read (see nodes, placement, apps, \
      events, builds, metrics and the dashboard), deploy (read, and build, deploy, verify, \
      switch, roll back, retire), admin (deploy, and change apps, nodes, images, registries, \
      secrets and tokens). The event log names the token each change was made with. schedd's \
      --api-token is the bootstrap admin token ("bootstrap").
      """,
    subcommands: [
      TokenCreateCommand.self, TokenListCommand.self, TokenRevokeCommand.self,
      TokenRotateCommand.self,
    ])
}

/// `schedctl token create NAME --role ROLE`.
struct TokenCreateCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create",
    abstract: "Make an API token with a role; it is printed once (the scheduler keeps a hash).",
    discussion: """
      Give each person and each tool its own token, with the lowest role that does the job: \
      a CI job that deploys needs deploy, a dashboard on a wall needs read. The name is what \
      the event log shows as the actor. Example:
        export TURNOUT_API_TOKEN=$(schedctl token create ci-deploy --role deploy)
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The token's name: lowercase letters, digits, '.', '_', '-' (like ci-deploy).")
  var name: String

  @Option(help: "read, deploy or admin.")
  var role: OperatorRole

  func run() async throws {
    let client = try global.client()
    let created = try await Exit.guarding {
      try await client.createToken(name: name, role: role)
    }
    if global.output == .json { return try printJSON(created) }
    print(created.token)
    FileHandle.standardError.write(
      Data(
        "made API token '\(created.name)' with role \(created.role.rawValue): keep it now, it is not shown again\n"
          .utf8))
  }
}

/// `schedctl token ls`.
struct TokenListCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ls", abstract: "List the API tokens by name and role (never the tokens).")

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let tokens = try await Exit.guarding { try await client.tokens() }
    if global.output == .json { return try printJSON(tokens) }
    var table = Table("NAME", "ROLE", "CREATED", "BY")
    for token in tokens {
      table.add(
        token.name, token.role.rawValue,
        token.createdAt.map { $0.formatted(.iso8601) } ?? "-", token.createdBy)
    }
    print(table.render())
  }
}

/// `schedctl token revoke NAME`.
struct TokenRevokeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "revoke",
    abstract: "Revoke an API token: requests with it are refused from now on.",
    discussion:
      "Dashboard sessions opened with it end too. The bootstrap token is schedd's --api-token: change it there."
  )

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The token's name (schedctl token ls).")
  var name: String

  func run() async throws {
    let client = try global.client()
    try await Exit.guarding { try await client.revokeToken(name) }
    if global.output == .json { return try printJSON(["revoked": name]) }
    print("revoked API token '\(name)'")
  }
}

/// `schedctl token rotate join|router`.
struct TokenRotateCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rotate",
    abstract: "Replace the join (or router) token: the old one joins nothing from now on.",
    usage: "schedctl token rotate join|router [<global options>]",
    discussion: """
      Joined nodes and routers are not disturbed: they prove themselves with their own \\
      certificates, not the token. Give the new token to hosts that join from now on. The \\
      rotated token is kept by the scheduler and wins over schedd's --join-token or \\
      --router-token from then on, also after a restart.
      """)

  enum Role: String, ExpressibleByArgument, CaseIterable {
    case join, router
  }

  @OptionGroup var global: GlobalOptions

  @Argument(help: "Which token: join (nodes) or router.")
  var role: Role

  func run() async throws {
    let client = try global.client()
    let rotated = try await Exit.guarding { try await client.rotateToken(role.rawValue) }
    if global.output == .json { return try printJSON(rotated) }
    print(rotated.token)
    FileHandle.standardError.write(
      Data(
        "the \(role.rawValue) token is rotated: the old one is refused from now on; joined \(role == .join ? "nodes" : "routers") keep working\n"
          .utf8))
  }
}
