import ArgumentParser
import OperatorAPI
import SchedModel

/// `schedctl nodes`: every node, its state, capacity, use and last heartbeat.
struct NodesCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nodes",
    abstract: "List the nodes, their capacity, what is used and free, and heartbeat age.",
    usage: "schedctl nodes [<global options>]",
    discussion: """
      USED is measured on the host by the agent. FREE is capacity less what placed slots \
      reserve: what placement can still hand out. A node is down after 3 missed heartbeats; \
      its slots are then re-placed on other nodes, unless more than half of the nodes are \
      down (the brake: see schedctl node resume-replacement).
      """)

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let response = try await Exit.guarding { try await client.nodesAndReplacement() }
    switch global.output {
    case .json:
      try printJSON(response)
    case .table:
      print(Self.table(response.nodes))
      if let replacement = response.replacement {
        print(Self.replacementLines(replacement), terminator: "")
      }
    }
  }

  /// What `nodes` and `status` say of re-placement when it has something to say.
  static func replacementLines(_ status: ReplacementStatus) -> String {
    var out = ""
    if status.braked, let reason = status.reason {
      out += """

        Re-placement is braked: \(reason). Slots of down nodes stay where they are until \
        nodes return; to move them anyway: schedctl node resume-replacement

        """
    } else if let by = status.overriddenBy, let reason = status.reason {
      out += "\nRe-placing although \(reason) (resumed by \(by)).\n"
    }
    for missing in status.missing {
      out += "missing: slot \(missing.slot) (\(missing.reason))\n"
    }
    return out
  }

  static func table(_ nodes: [NodeView]) -> String {
    if nodes.isEmpty {
      return "No nodes yet. Start sched-agent on a host with this scheduler's join token."
    }
    var table = Table(
      "NAME", "ADDRESS", "STATE", "CPU USED/CAP", "CPU FREE", "MEM USED/CAP", "MEM FREE", "PORTS",
      "HEARTBEAT")
    for node in nodes {
      let cpuUsed = node.usage.map { Quantity.formatCPU($0.cpuUsedMillis) } ?? "-"
      let memUsed = node.usage.map { Quantity.formatMemory($0.memoryUsedBytes) } ?? "-"
      table.add(
        node.name, node.address, node.state.rawValue,
        "\(cpuUsed)/\(Quantity.formatCPU(node.capacity.cpuMillis))",
        Quantity.formatCPU(node.free.cpuMillis),
        "\(memUsed)/\(Quantity.formatMemory(node.capacity.memoryBytes))",
        Quantity.formatMemory(node.free.memoryBytes), node.ports.description,
        node.heartbeatAgeMillis.map(formatAge) ?? "never")
    }
    return table.render()
  }
}

/// `850ms ago`, `4.2s ago`, `3m ago`, `2h ago`.
func formatAge(_ millis: Int64) -> String {
  switch millis {
  case ..<1000: "\(max(millis, 0))ms ago"
  case ..<60_000: "\((Double(millis) / 100).rounded() / 10)s ago"
  case ..<3_600_000: "\(millis / 60_000)m ago"
  default: "\(millis / 3_600_000)h ago"
  }
}
