import AgentCore
import SchedModel
import SchedWire
import Testing

@Suite("Command gate")
struct CommandGateTests {
  let stop = CommandAction.assign(AssignSlots(slots: []))

  @Test func executesOnceAndReplaysTheAck() {
    var gate = CommandGate(generation: 2)
    let command = Command(generation: 2, action: stop)
    #expect(gate.decide(id: "c1", command: command) == .execute)
    gate.record(id: "c1", ack: CommandAck(ok: true, message: "stopped"))
    #expect(
      gate.decide(id: "c1", command: command) == .replay(CommandAck(ok: true, message: "stopped")))
    #expect(gate.decide(id: "c2", command: command) == .execute)
  }

  @Test func dropsCommandsFromAnOlderGeneration() {
    var gate = CommandGate(generation: 1)
    gate.registered(generation: 4)
    guard
      case .stale(let ack) = gate.decide(id: "c9", command: Command(generation: 3, action: stop))
    else {
      Issue.record("expected stale")
      return
    }
    #expect(ack.ok == false)
    #expect(gate.decide(id: "c9", command: Command(generation: 4, action: stop)) == .execute)
    gate.registered(generation: 2)
    #expect(gate.generation == 4)
  }

  @Test func forgetsOldestIDsPastItsMemory() {
    var gate = CommandGate(generation: 1, memory: 2)
    let command = Command(generation: 1, action: stop)
    for id in ["a", "b", "c"] { gate.record(id: id, ack: CommandAck(ok: true)) }
    #expect(gate.decide(id: "a", command: command) == .execute)
    #expect(gate.decide(id: "c", command: command) == .replay(CommandAck(ok: true)))
  }
}
