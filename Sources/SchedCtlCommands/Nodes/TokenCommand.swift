import ArgumentParser
import Foundation
import OperatorAPI

/// `schedctl token`: the cluster's tokens.
struct TokenCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "token", abstract: "Rotate the tokens nodes and routers join with.",
    subcommands: [TokenRotateCommand.self])
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
