import Dashboard
import Foundation
import SchedModel
import Testing

@Suite("Dashboard: builds and their output")
struct DashboardBuildsTests {
  @Test("recent builds show who, ref, kind, state and image or failure; a running one its output")
  func builds() {
    var running = BuildRecord(
      id: "web-3", app: "web", number: 3, ref: "main", kind: .appOnly, source: "context",
      actor: "ana@laptop", queuedAt: Date(timeIntervalSince1970: 50), reference: "web:main-b3")
    running.state = .running
    running.node = NodeID("b1")
    var failed = BuildRecord(
      id: "web-2", app: "web", number: 2, ref: "main", kind: .full, source: "context",
      actor: "webhook", queuedAt: Date(timeIntervalSince1970: 40), reference: "web:main-b2")
    failed.state = .failed
    failed.failure = BuildFailure(
      step: 4, steps: 6, instruction: "RUN make <all>", message: "exit code 2")
    var model = DashboardModel(
      nodes: [], apps: [], routers: [], events: [], samples: [:], now: 100)
    model.builds = [running, failed]
    model.buildLogs = ["web-3": ["Step 2/6 : COPY . /src", "<script>alert(1)</script>"]]
    let html = DashboardPage.state(model)
    #expect(html.contains("<section id=\"builds\">"))
    #expect(html.contains("web-3") && html.contains("running") && html.contains("ana@laptop"))
    #expect(html.contains("step 4/6 (RUN make &lt;all&gt;): exit code 2"))
    #expect(html.contains("Step 2/6 : COPY . /src"))
    #expect(!html.contains("<script>alert(1)</script>"), "build output is escaped")
  }

  @Test("no builds, no section")
  func none() {
    let html = DashboardPage.state(
      DashboardModel(nodes: [], apps: [], routers: [], events: [], samples: [:], now: 100))
    #expect(!html.contains("id=\"builds\""))
  }
}
