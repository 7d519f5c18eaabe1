import ArgumentParser
import Foundation
import OperatorAPI
import SchedModel

/// `schedctl node`: one node's chores.
struct NodeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "node", abstract: "Add nodes to the cluster; resume re-placement.",
    subcommands: [
      JoinCommandCommand.self, JoinTokenCommand.self, NodeRemoveCommand.self,
      ResumeReplacementCommand.self,
    ])
}

/// `schedctl node remove NODE`: a node gone for good, its certificates revoked.
struct NodeRemoveCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "remove",
    abstract: "Remove a node for good: it can no longer connect, even with its certificate.",
    usage: "schedctl node remove <node> [<global options>]",
    discussion: """
      Stop the node's agent first: its slots then move to the other nodes (once it is down). \
      A node still connected, or still holding slots, is refused with what to do. Its \
      certificates are revoked: to bring the host back, remove its credentials \
      (STATE_DIR/tls) and join it again with a join token.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The node's id, as schedctl nodes shows it.")
  var node: String

  func run() async throws {
    let client = try global.client()
    let removed = try await Exit.guarding { try await client.removeNode(node) }
    if global.output == .json { return try printJSON(removed) }
    print(
      "removed \(removed.node); \(removed.certificatesRevoked) certificate(s) revoked: it cannot connect again"
    )
  }
}

/// `schedctl node join-token`: the whole token alone, for scripts.
struct JoinTokenCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "join-token",
    abstract: "Print the join token nodes join with (or, with --router, routers).",
    usage: "schedctl node join-token [--router] [<global options>]",
    discussion: """
      The token is TRN-1-<fingerprint of the cluster CA>-<secret>: a node given it checks the \
      scheduler against that CA before it sends anything, then asks for its own certificate. \
      Keep it secret: whoever has it can add a node. Over a plain-TCP cluster port \
      (schedd --insecure-cluster) it is the bare secret.
      """)

  @OptionGroup var global: GlobalOptions

  @Flag(help: "The router token instead of the node join token.")
  var router = false

  func run() async throws {
    let client = try global.client()
    let info = try await Exit.guarding { try await client.joinInfo() }
    guard let token = router ? info.routerToken : info.token else {
      FileHandle.standardError.write(
        Data("error: this scheduler takes no routers: start schedd with --router-token\n".utf8))
      throw ExitCode(Exit.dataError)
    }
    print(token)
  }
}

/// `schedctl node resume-replacement`: re-place down nodes' slots although the brake holds.
struct ResumeReplacementCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resume-replacement",
    abstract: "Re-place the slots of down nodes although more than half of the nodes are down.",
    usage: "schedctl node resume-replacement [<global options>]",
    discussion: """
      When more than half of the nodes go down at once, the scheduler re-places nothing (most \
      likely its own link failed, and the nodes still serve): it says so in schedctl nodes, \
      schedctl status and the event log, and resumes by itself when nodes return. Run this \
      when the nodes are really gone: their slots are moved to the nodes that are up, as far \
      as they fit, until the down nodes return.
      """)

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let status = try await Exit.guarding { try await client.resumeReplacement() }
    switch global.output {
    case .json: try printJSON(status)
    case .table:
      if status.reason == nil {
        print("Re-placement is not braked: slots of down nodes are re-placed as they go down.")
      } else {
        print(NodesCommand.replacementLines(status), terminator: "")
      }
    }
  }
}

/// `schedctl node join-command`: what to run on a new host so that it joins.
struct JoinCommandCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "join-command",
    abstract: "Print what to run on a new host (as root) so that it joins this cluster.",
    usage:
      "schedctl node join-command [--name <name>] [--advertise <address>] [--scheduler-address <host:port>]",
    discussion: """
      The output installs nothing by itself: it writes /etc/turnout/agent.env (mode 0600: it \
      holds the join token) and starts sched-agent under systemd. Install the package first \
      (scripts/package builds turnout_VERSION_amd64.deb). The node dials the scheduler's \
      cluster port; nothing dials into the node but the routers, to its slot ports.
      """)

  @OptionGroup var global: GlobalOptions

  @Option(help: "The new node's name (default: its host name).")
  var name: String?

  @Option(help: "The address routers reach the new node's slots on (default: ADDRESS to fill in).")
  var advertise: String?

  @Option(
    help:
      "The scheduler's cluster address as the new node reaches it (default: schedd's --advertise-cluster)."
  )
  var schedulerAddress: String?

  @Option(help: "Node labels key=value[,key=value].")
  var labels: String?

  func validate() throws {
    if let name { _ = try? NodeID.validate(name) }
    if let schedulerAddress {
      do { _ = try Parsing.hostPort(schedulerAddress) } catch {
        throw ValidationError(error.message)
      }
    }
    if let labels {
      do { _ = try LabelParser.parse(labels) } catch { throw ValidationError(error.message) }
    }
  }

  func run() async throws {
    let client = try global.client()
    let info = try await Exit.guarding { try await client.joinInfo() }
    guard let scheduler = schedulerAddress ?? info.scheduler else {
      FileHandle.standardError.write(
        Data(
          "error: the scheduler listens on every address and does not know which one nodes reach; pass --scheduler-address HOST:PORT (or start schedd with --advertise-cluster)\n"
            .utf8))
      throw ExitCode(Exit.dataError)
    }
    if global.output == .json {
      return try printJSON(JoinInfo(scheduler: scheduler, token: info.token, cluster: info.cluster))
    }
    print(
      Self.script(
        scheduler: scheduler, token: info.token, name: name, advertise: advertise, labels: labels))
  }

  static func script(
    scheduler: String, token: String, name: String?, advertise: String?, labels: String?
  ) -> String {
    var env = [
      "TURNOUT_SCHEDULER=\(scheduler)", "TURNOUT_JOIN_TOKEN=\(token)",
      "TURNOUT_ADVERTISE=\(advertise ?? "ADDRESS")",
      "TURNOUT_PORTS=20000-20999",
    ]
    if let name { env.append("TURNOUT_NODE_NAME=\(name)") }
    if let labels { env.append("TURNOUT_LABELS=\(labels)") }
    let fill =
      advertise == nil
      ? "\n# Replace ADDRESS with the address the routers reach this host on (its private or public IP).\n"
      : "\n"
    return """
      # On the new host, as root, with the turnout package installed (dpkg -i turnout_*.deb):\(fill)\
      install -d -m 0700 /etc/turnout
      (umask 077; cat > /etc/turnout/agent.env <<'EOF'
      \(env.joined(separator: "\n"))
      EOF
      )
      systemctl enable --now sched-agent
      # Then, here: schedctl nodes  (the node shows 'ready' within seconds)
      """
  }
}
