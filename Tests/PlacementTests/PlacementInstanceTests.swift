import Placement
import SchedModel
import Testing

func slot(_ cpu: Int64, _ memory: Int64) -> PlacementInstance.Size {
  .init(cpuMillicores: cpu, memoryMiB: memory)
}

@Suite("Placement instances, placed offline")
struct PlacementInstanceTests {
  @Test("sets go in order, best fit, all or nothing; the answer counts nodes and the bound")
  func placesInOrder() throws {
    let instance = PlacementInstance(
      node: slot(4000, 8192), nodes: 3,
      sets: [
        [slot(1000, 1024), slot(1000, 1024)], [slot(3000, 512)],
        [slot(3000, 512), slot(3000, 512), slot(3000, 512)], [slot(2000, 6144)],
      ])
    let plan = try InstancePlanner.plan(instance)
    // Best fit: the second slot joins the first on node 0; the 3000m slot fits only on an
    // empty node; three more 3000m do not fit (one empty node left); 2000m/6Gi fills node 0 exactly.
    #expect(plan.sets == [[0, 0], [1], nil, [0]])
    #expect(plan.unplacedSets == [2])
    #expect(plan.nodesUsed == 2)
    #expect(plan.slotsPlaced == 4)
    // CPU: 1000*2 + 3000*4 + 2000 = 16000 over 4000 per node.
    #expect(plan.lowerBound == 4)
  }

  @Test(
    "an invalid instance is refused with the field named",
    arguments: [
      (PlacementInstance(node: slot(0, 1), nodes: 1, sets: []), "node:"),
      (PlacementInstance(node: slot(1, 1), nodes: 0, sets: []), "nodes:"),
      (PlacementInstance(node: slot(1, 1), nodes: 1, sets: [[]]), "sets[0] is empty"),
      (
        PlacementInstance(
          node: slot(1, 1), nodes: 1, sets: [[slot(1, 1)], [slot(1, 1), slot(2, 1)]]),
        "sets[1] mixes"
      ),
      (PlacementInstance(node: slot(1, 1), nodes: 1, sets: [[slot(0, 1)]]), "sets[0]:"),
    ])
  func refusesInvalid(instance: PlacementInstance, says: String) {
    do {
      _ = try InstancePlanner.plan(instance)
      Issue.record("expected \(says)")
    } catch {
      #expect(error.message.hasPrefix(says), "\(error.message)")
    }
  }
}
