import AgentCore
import Foundation
import Logging
import OperatorAPI
import RouteTable
import SchedClient
import SchedModel
import SchedStore
import SchedTestSupport
import SchedWire
import Testing

@testable import RouterDaemon

/// The switch's own record: one that cannot be written aborts, one not synced is told.
extension SwitchTests {
  @Test("a switch whose record cannot be written is aborted everywhere and logged; blue stays")
  func recordThatFailsAborts() async throws {
    let store = FaultyRecordStore()
    let (cluster, router) = try await Self.deployedWithRouter(store: store)
    let api = cluster.api
    store.arm(.commit)
    await #expect {
      _ = try await api.switchLive("web", force: true)
    } throws: { error in
      let message = (error as? ClientError)?.message ?? ""
      return message.contains("switch aborted, nothing changed: cannot record it")
        && message.contains("injected")
    }
    #expect(Self.live(router).0 == .blue)
    #expect(try await api.status("web").app.live == .blue)
    #expect(
      try await api.events(limit: 200).contains {
        $0.kind == "app.switch_aborted" && $0.detail.contains("blue stays live")
      })
    store.arm(.none)
    #expect(try await api.switchLive("web", force: true).to == .green)
    #expect(Self.live(router).0 == .green)
    await cluster.stop()
  }

  @Test("a switch whose record is written but not synced is live; the operator is told")
  func recordThatIsNotSyncedIsReported() async throws {
    let store = FaultyRecordStore()
    let (cluster, router) = try await Self.deployedWithRouter(store: store)
    let api = cluster.api
    store.arm(.sync)
    await #expect {
      _ = try await api.switchLive("web", force: true)
    } throws: { error in
      let message = (error as? ClientError)?.message ?? ""
      return message.contains("switch done: green is live at epoch")
        && message.contains("could not sync its record to disk")
        && message.contains("check the disk")
    }
    // The routers and the scheduler's state agree: green is live.
    #expect(Self.live(router).0 == .green)
    #expect(try await api.status("web").app.live == .green)
    await cluster.stop()
  }
}
