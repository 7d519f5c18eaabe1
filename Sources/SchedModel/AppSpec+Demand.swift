extension AppSpec {
  /// Why no registered node could ever hold one slot of this spec, naming the most any node
  /// offers; nil when one could (or none is registered yet, so there is nothing to compare).
  public func demandProblem(nodes all: some Collection<Node>) -> String? {
    let demand = resources
    guard !all.isEmpty, !all.contains(where: { demand.fits(in: $0.spec.capacity) }) else {
      return nil
    }
    // In id order, so that the node named on a tie is always the same.
    let nodes = all.sorted { $0.id < $1.id }
    let cpu = nodes.max { $0.spec.capacity.cpuMillis < $1.spec.capacity.cpuMillis }!
    let memory = nodes.max { $0.spec.capacity.memoryBytes < $1.spec.capacity.memoryBytes }!
    var hint = ""
    if demand.cpuMillis > cpu.spec.capacity.cpuMillis, demand.cpuMillis % 1000 == 0 {
      hint =
        " (cpu: \(demand.cpuMillis / 1000) means \(demand.cpuMillis / 1000) cores; write \(demand.cpuMillis / 1000)m for millicores)"
    }
    return
      "one slot of \(name) asks for \(Quantity.formatCPU(demand.cpuMillis)) CPU and \(Quantity.formatMemory(demand.memoryBytes)) memory, which no registered node can ever hold: the most CPU is \(Quantity.formatCPU(cpu.spec.capacity.cpuMillis)) (\(cpu.id)), the most memory \(Quantity.formatMemory(memory.spec.capacity.memoryBytes)) (\(memory.id))\(hint)"
  }
}
