import Foundation
import OperatorAPI
import RouteTable
import SchedModel

/// The dashboard's HTML: the page shell (header, activity panel, confirmation dialog) around
/// the live part, which the page's script fetches again every few seconds (`state`).
public enum DashboardPage {
  /// Whose token the session was opened with, and what its role lets the buttons do.
  static func viewer(_ model: DashboardModel) -> String {
    guard let viewer = model.viewer else { return "" }
    return
      "<span id=\"viewer\" title=\"\(HTML.escape(viewer.role.summary))\">\(HTML.escape(viewer.name)) · \(viewer.role.rawValue)</span>"
  }

  /// The whole page for a logged-in operator.
  public static func page(_ model: DashboardModel) -> String {
    """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Turnout</title><link rel="stylesheet" href="/dashboard/style.css"></head>
    <body>
    <header><h1>Turnout</h1><span id="refreshed"></span>\(viewer(model))
    <form method="post" action="/dashboard/logout"><button class="quiet" id="logout">Log out</button></form>
    </header>
    <section id="activity" aria-live="polite"><h2>Activity</h2><ol id="log"></ol></section>
    <main id="state">\(state(model))</main>
    <dialog id="confirm"><form method="dialog"><p id="confirm-text"></p>
    <button value="cancel" class="quiet" id="confirm-cancel">Cancel</button>
    <button value="ok" id="confirm-ok">Confirm</button></form></dialog>
    <script src="/dashboard/app.js"></script>
    </body></html>
    """
  }

  /// The part that refreshes: nodes, routers, apps with their sets and graphs, the event log.
  public static func state(_ model: DashboardModel) -> String {
    var html = "<section id=\"nodes\"><h2>Nodes</h2><div class=\"cards\">"
    if model.nodes.isEmpty {
      html +=
        "<p class=\"empty\">No node has joined yet: start sched-agent with the join token.</p>"
    }
    for node in model.nodes { html += self.node(node) }
    html += "</div>" + routers(model.routers) + "</section>"
    if model.apps.isEmpty {
      html +=
        "<section class=\"app\"><p class=\"empty\">No app yet: <code>schedctl app apply app.yaml</code> creates one.</p></section>"
    }
    for app in model.apps { html += self.app(app, model) }
    html += builds(model.builds, logs: model.buildLogs)
    html += certificates(
      model.certificates, now: Date(timeIntervalSince1970: TimeInterval(model.now)))
    html += events(model.events)
    return html
  }

  static func node(_ node: NodeView) -> String {
    let cpuUsed = Double(node.usage?.cpuUsedMillis ?? 0)
    let memoryUsed = Double(node.usage?.memoryUsedBytes ?? 0)
    let cpu = bar(
      "CPU", capacity: Double(node.capacity.cpuMillis), reserved: Double(node.allocated.cpuMillis),
      used: cpuUsed, format: { HTML.cores(Int64($0)) + " cores" })
    let memory = bar(
      "memory", capacity: Double(node.capacity.memoryBytes),
      reserved: Double(node.allocated.memoryBytes), used: memoryUsed, format: HTML.bytes)
    return """
      <article class="node" data-node="\(HTML.escape(node.id.rawValue))" data-state="\(node.state.rawValue)">
      <h3>\(HTML.escape(node.name)) <span class="badge \(node.state.rawValue)">\(node.state.rawValue)</span></h3>
      <p class="meta">\(HTML.escape(node.address)) · ports \(node.ports.low)-\(node.ports.high)</p>
      \(cpu)\(memory)</article>
      """
  }

  /// A capacity bar: measured use and reservations against capacity, and what is free.
  static func bar(
    _ label: String, capacity: Double, reserved: Double, used: Double,
    format: (Double) -> String
  ) -> String {
    let free = max(0, capacity - reserved)
    return """
      <div class="capacity" data-resource="\(label)">
      <div class="label">\(label): used \(HTML.escape(format(used))), reserved \(HTML.escape(format(reserved))) of \(HTML.escape(format(capacity))), free \(HTML.escape(format(free)))</div>
      <div class="bar"><span class="reserved" style="width:\(HTML.percent(reserved, of: capacity))%"></span><span class="used" style="width:\(HTML.percent(used, of: capacity))%"></span></div>
      </div>
      """
  }

  static func routers(_ routers: [RouterView]) -> String {
    guard !routers.isEmpty else {
      return
        "<p class=\"meta\">No router has connected: start sched-router with the router token.</p>"
    }
    let items = routers.map { router in
      let state = !router.connected ? "disconnected" : router.inSync ? "in sync" : "behind"
      return
        "<li class=\"router\" data-router=\"\(HTML.escape(router.name))\">\(HTML.escape(router.name)): \(state), epoch \(router.epoch)</li>"
    }.joined()
    return "<ul class=\"routers\">\(items)</ul>"
  }

  static func app(_ status: AppStatusResponse, _ model: DashboardModel) -> String {
    let name = status.app.name
    let escaped = HTML.escape(name)
    let live = status.app.live
    let liveText = live.map { "\($0.rawValue) is live" } ?? "nothing live yet"
    // The deploy field starts from the newest set's image (the candidate before a switch, the
    // live set after one), for the operator to edit; the app's own image before any deploy.
    let newest = status.sets.max { ($0.createdAt ?? .distantPast) < ($1.createdAt ?? .distantPast) }
    let image = newest?.image ?? status.app.spec.image
    var html = """
      <section class="app" data-app="\(escaped)" data-live="\(live?.rawValue ?? "")">
      <h2>\(escaped) <span class="badge \(live?.rawValue ?? "none")">\(liveText)</span></h2>
      <p class="meta">hosts \(HTML.escape(status.app.spec.hosts.joined(separator: ", "))) · \(status.app.spec.slots) slots per set · route epoch \(status.epoch)</p>
      <div class="controls">
      <label>image <input name="image" id="image-\(escaped)" value="\(HTML.escape(image))" size="28"></label>
      <button data-action="deploy" data-app="\(escaped)">Build new environment</button>
      <button data-action="verify" data-app="\(escaped)">Pre-production check</button>
      <button data-action="switch" data-app="\(escaped)" class="primary">Switch production</button>
      <button data-action="rollback" data-app="\(escaped)">Roll back</button>
      <button data-action="retire" data-app="\(escaped)" class="quiet">Retire old set</button>
      </div><div class="sets">
      """
    for color in Color.allCases {
      guard let set = status.sets.first(where: { $0.color == color }) else {
        html +=
          "<div class=\"set empty \(color.rawValue)\" data-color=\"\(color.rawValue)\"><h3>\(color.rawValue)</h3><p class=\"empty\">no set</p></div>"
        continue
      }
      html += self.set(
        set, traffic: status.traffic.first { $0.color == color && $0.route == .production },
        preview: status.traffic.first { $0.color == color && $0.route == .preview })
    }
    html += "</div><div class=\"graphs\">"
    for chart in model.charts(app: name) { html += chart.render() }
    return html + "</div></section>"
  }

  static func set(_ set: SetView, traffic: SetTraffic?, preview: SetTraffic? = nil) -> String {
    let role = set.live ? "live" : "standby"
    var rows = ""
    for slot in set.slots {
      rows += """
        <tr class="slot" data-health="\(slot.health.rawValue)"><td>\(slot.index)</td><td>\(HTML.escape(slot.node.rawValue))</td>\
        <td>\(HTML.escape(slot.address)):\(slot.hostPort)</td><td class="health \(slot.health.rawValue)">\(slot.health.rawValue)</td>\
        <td>\(HTML.escape(slot.message ?? ""))</td></tr>
        """
    }
    func line(_ traffic: SetTraffic) -> String {
      "\(traffic.requests) requests · 2xx \(traffic[.success]) · 3xx \(traffic[.redirect]) · 4xx \(traffic[.clientError]) · 5xx \(traffic[.serverError]) · proxy errors \(traffic[.proxyError])"
    }
    var counts = traffic.map { "production: " + line($0) } ?? "no production traffic counted"
    if let preview { counts += "</p><p class=\"meta traffic preview\">preview: " + line(preview) }
    return """
      <div class="set \(set.color.rawValue)\(set.live ? " live" : "")" data-color="\(set.color.rawValue)" data-state="\(set.state.rawValue)">
      <h3>\(set.color.rawValue) <span class="badge \(role)">\(role)</span> <span class="badge \(set.state.rawValue)">\(set.state.rawValue)</span></h3>
      <p class="meta">\(HTML.escape(set.image)) · \(HTML.escape(set.deployment)) · \(set.healthy)/\(set.slots.count) healthy</p>
      <p class="meta traffic">\(counts)</p>
      <table><thead><tr><th>slot</th><th>node</th><th>address</th><th>health</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
      </div>
      """
  }

  static func events(_ events: [ClusterEvent]) -> String {
    let formatter = ISO8601DateFormatter()
    var rows = ""
    for event in events {
      rows += """
        <tr class="event" data-kind="\(HTML.escape(event.kind))"><td>\(formatter.string(from: event.at))</td><td>\(HTML.escape(event.kind))</td>\
        <td>\(HTML.escape(event.subject))</td><td>\(HTML.escape(event.actor))</td><td>\(HTML.escape(event.detail))</td></tr>
        """
    }
    return """
      <section id="events"><h2>Event log</h2>
      <table><thead><tr><th>when (UTC)</th><th>what</th><th>subject</th><th>who</th><th>detail</th></tr></thead><tbody>\(rows)</tbody></table>
      </section>
      """
  }
}
