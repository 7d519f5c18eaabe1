import Dashboard
import Foundation
import OperatorAPI
import RouteTable
import SchedModel
import Testing

@Suite("Dashboard rendering")
struct DashboardRenderTests {
  @Test func escapesEverythingAnOperatorOrAnAgentCanName() {
    #expect(
      HTML.escape("<script>alert('x') & \"y\"</script>")
        == "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
    let event = ClusterEvent(
      seq: 1, at: Date(timeIntervalSince1970: 0), actor: "node:<b>", kind: "slot.drift",
      subject: "x", detail: "<img src=x onerror=alert(1)>")
    let html = DashboardPage.state(
      DashboardModel(nodes: [], apps: [], routers: [], events: [event], samples: [:], now: 100))
    #expect(!html.contains("<img"))
    #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
    #expect(html.contains("node:&lt;b&gt;"))
  }

  @Test func chartScalesToANiceTopAndBreaksLinesAtGaps() throws {
    let chart = Chart(
      title: "requests per second", unit: .perSecond,
      lines: [
        Chart.Line(
          label: "green", cssClass: "green",
          points: [(1000, 3), (1010, 7), (1020, 4), (1100, 5), (1110, 6)])
      ], from: 1000, to: 1200)
    let svg = chart.render()
    // Largest value 7 -> top 10; two segments because of the 80 s gap.
    #expect(svg.contains(">10/s<"))
    #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
    #expect(svg.contains("green 6/s"))
    let percent = Chart(
      title: "status", unit: .percent,
      lines: [Chart.Line(label: "2xx", cssClass: "ok", points: [(1000, 100)])], from: 900,
      to: 1000)
    // One point is a dot, at the very top and right of the plot.
    #expect(percent.render().contains("<circle"))
    #expect(percent.render().contains(">100%<"))
    let empty = Chart(title: "cpu", unit: .cores, lines: [], from: 0, to: 60).render()
    #expect(empty.contains("no samples yet"))
  }

  @Test func statusSharesArePercentagesOfTheSetsRequests() {
    let app = "web"
    func points(_ metric: String, _ values: [Double]) -> (String, [SamplePoint]) {
      let series = "set/\(app)/blue/\(metric)"
      return (
        series,
        values.enumerated().map {
          SamplePoint(
            series: series, resolution: 10, start: 1000 + Int64($0.offset) * 10, mean: $0.element,
            count: 1)
        }
      )
    }
    let samples = Dictionary(
      uniqueKeysWithValues: [
        points("requests", [10, 20]), points("2xx", [9, 10]), points("5xx", [1, 10]),
      ])
    let model = DashboardModel(
      nodes: [], apps: [], routers: [], events: [], samples: samples, now: 1030, window: 60)
    let charts = model.charts(app: app)
    #expect(
      charts.map(\.title) == [
        "requests per second", "status classes, blue", "status classes, green", "CPU per set",
        "memory per set",
      ])
    let blue = charts[1].lines
    #expect(blue.first { $0.label == "2xx" }?.points.map(\.value) == [90, 50])
    #expect(blue.first { $0.label == "5xx" }?.points.map(\.value) == [10, 50])
    #expect(charts[2].lines.allSatisfy { $0.points.isEmpty })
  }

  @Test func pageShowsNodesWithBarsAppsWithBothSetsAndTheButtons() throws {
    let node = NodeView(
      id: "n1", name: "rack-1", address: "10.0.0.5", state: .ready, generation: 1,
      capacity: Resources(cpuMillis: 2000, memoryBytes: 4 << 30),
      allocated: Resources(cpuMillis: 500, memoryBytes: 1 << 30),
      free: Resources(cpuMillis: 1500, memoryBytes: 3 << 30),
      usage: HostUsage(
        cpuUsedMillis: 1000, memoryUsedBytes: 2 << 30, memoryAvailableBytes: 2 << 30),
      ports: try PortRange(low: 20000, high: 20099), labels: [:], heartbeatAgeMillis: 100)
    var spec = AppSpec(
      name: "shop", image: "shop:1", slots: 1,
      resources: Resources(cpuMillis: 100, memoryBytes: 1 << 20))
    spec.hosts = ["shop.example"]
    let record = AppRecord(spec: spec, live: .blue, updatedAt: Date())
    let slot = SlotView(
      index: 0, node: "n1", address: "10.0.0.5", hostPort: 20000, containerID: "c",
      health: .healthy, startedAt: nil, message: nil)
    let status = AppStatusResponse(
      app: record,
      sets: [
        SetView(
          color: .blue, deployment: "d1", image: "shop:1", state: .ready, live: true, slots: [slot],
          createdAt: Date(timeIntervalSince1970: 1_000)),
        SetView(
          color: .green, deployment: "d2", image: "shop:2", state: .starting, live: false,
          slots: [], createdAt: Date(timeIntervalSince1970: 2_000)),
      ])
    let html = DashboardPage.page(
      DashboardModel(nodes: [node], apps: [status], routers: [], events: [], samples: [:], now: 100)
    )
    #expect(html.contains("CPU: used 1.0 cores, reserved 0.5 cores of 2.0 cores, free 1.5 cores"))
    #expect(html.contains("style=\"width:25%\""))  // reserved CPU
    #expect(html.contains("style=\"width:50%\""))  // used CPU and memory
    #expect(html.contains("data-app=\"shop\" data-live=\"blue\""))
    #expect(html.contains("value=\"shop:2\""))  // the deploy field offers the candidate's image
    // After the switch green is live and blue the older standby: still green's image, not the
    // old one.
    var switched = status
    switched.sets[0].live = false
    switched.sets[1].live = true
    let after = DashboardPage.page(
      DashboardModel(
        nodes: [node], apps: [switched], routers: [], events: [], samples: [:], now: 100))
    #expect(after.contains("value=\"shop:2\"") && !after.contains("value=\"shop:1\""))
    for action in ["deploy", "verify", "switch", "rollback", "retire"] {
      #expect(html.contains("data-action=\"\(action)\" data-app=\"shop\""))
    }
    #expect(html.contains("<dialog id=\"confirm\">"))
    #expect(!html.contains("<script>"))  // the script is a file of the scheduler's, no inline code
  }
}
