import ArgumentParser
import BuildInfo

/// The root command: `schedctl <noun/verb>`.
public struct Schedctl: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "schedctl",
    abstract: "Operate a Turnout cluster: nodes, placement, apps and their blue and green sets.",
    discussion: """
      schedctl talks to schedd's HTTP API. Point it at the scheduler and give it the API token:

        export TURNOUT_API=http://127.0.0.1:7070
        export TURNOUT_API_TOKEN=...        # the token schedd was started with
        schedctl nodes

      Every command takes the global options --scheduler URL, --token TOKEN and \
      -o/--output table|json (<global options> in each usage line).

      Exit codes: 0 success; 1 the scheduler failed the request; 2 a plan does not fit; \
      64 bad command line; 65 the scheduler rejected the input; 69 scheduler unreachable; \
      77 token refused.
      """,
    version: BuildInfo.line("schedctl"),
    subcommands: [
      NodesCommand.self, PlacementCommand.self, PlanCommand.self, RebalanceCommand.self,
      AppCommand.self,
      DeployCommand.self, StatusCommand.self, VerifyCommand.self, SwitchCommand.self,
      RollbackCommand.self,
      RetireCommand.self, RoutersCommand.self, StopSetCommand.self, EventsCommand.self,
      TopCommand.self, ImageCommand.self, RegistryCommand.self, NodeCommand.self,
      BuildCommand.self, BuildsCommand.self, TokenCommand.self, SecretCommand.self,
      CertCommand.self,
    ]
  )

  public init() {}
}
