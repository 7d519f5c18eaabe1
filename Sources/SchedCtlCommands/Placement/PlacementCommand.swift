import ArgumentParser
import OperatorAPI
import SchedModel

/// `schedctl placement`: each slot and its node, and what each node has left.
struct PlacementCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "placement",
    abstract: "Show every placed slot and its node, and the free capacity of each node.",
    usage: "schedctl placement [<global options>]")

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let placement = try await Exit.guarding { try await client.placement() }
    switch global.output {
    case .json:
      try printJSON(placement)
    case .table:
      print(Self.render(placement))
    }
  }

  static func render(_ placement: PlacementResponse) -> String {
    var out = ""
    if placement.slots.isEmpty {
      out += "No slots placed.\n"
    } else {
      var slots = Table("APP", "COLOR", "SLOT", "NODE", "HOST PORT", "CPU", "MEMORY")
      for slot in placement.slots {
        slots.add(
          slot.slot.app, slot.slot.color.rawValue, String(slot.slot.index), slot.node.rawValue,
          String(slot.hostPort), Quantity.formatCPU(slot.resources.cpuMillis),
          Quantity.formatMemory(slot.resources.memoryBytes))
      }
      out += slots.render() + "\n"
    }
    out += "\n"
    var nodes = Table("NODE", "STATE", "CPU FREE/CAP", "MEM FREE/CAP", "SLOTS")
    for node in placement.nodes {
      nodes.add(
        node.name, node.state.rawValue,
        "\(Quantity.formatCPU(node.free.cpuMillis))/\(Quantity.formatCPU(node.capacity.cpuMillis))",
        "\(Quantity.formatMemory(node.free.memoryBytes))/\(Quantity.formatMemory(node.capacity.memoryBytes))",
        String(placement.slots.filter { $0.node == node.id }.count))
    }
    out += placement.nodes.isEmpty ? "No nodes yet." : nodes.render()
    return out
  }
}
