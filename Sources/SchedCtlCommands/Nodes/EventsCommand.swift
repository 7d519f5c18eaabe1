import ArgumentParser
import Foundation
import OperatorAPI
import SchedModel

/// `schedctl events`: the append-only event log.
struct EventsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "events", abstract: "Show the event log: who did what, and when.",
    usage:
      "schedctl events [--after <seq>] [--limit <n>] [--app <app>] [--follow]\n         [<global options>]",
    discussion: """
      Without --after, the newest events (up to --limit); --app keeps those about one app (its \
      sets, switches, verifications); --follow keeps printing new events as they happen, one \
      line each, until interrupted.

        schedctl events --app web --follow
      """)

  @OptionGroup var global: GlobalOptions

  @Option(help: "Show events after this sequence number.")
  var after: Int64 = 0

  @Option(help: "At most this many events (1 to 1000).")
  var limit: Int = 100

  @Option(help: "Only events about this app.")
  var app: String?

  @Flag(help: "Keep printing new events as they happen.")
  var follow = false

  func validate() throws {
    guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000") }
  }

  func run() async throws {
    let client = try global.client()
    // Every page from `after`: the newest ones are shown, and --follow goes on from the last.
    var events: [ClusterEvent] = []
    var cursor = after
    while true {
      let from = cursor
      let page = try await Exit.guarding { try await client.events(after: from, limit: 1000) }
      events += page
      cursor = page.last?.seq ?? cursor
      if page.count < 1000 { break }
    }
    // --after: the first --limit events after it; otherwise the newest --limit.
    let matching = events.filter(matches)
    let shown = Array(after > 0 ? matching.prefix(limit) : matching.suffix(limit))
    switch global.output {
    case .json where !follow:
      try printJSON(EventsResponse(events: shown))
    case .json:
      for event in shown { Self.out(try Self.jsonLine(event)) }
    case .table:
      var table = Table("SEQ", "TIME", "ACTOR", "KIND", "SUBJECT", "DETAIL")
      for event in shown {
        table.add(
          String(event.seq ?? 0), Self.time(event.at), event.actor, event.kind, event.subject,
          event.detail)
      }
      // Unbuffered, like the lines that follow it.
      Self.out(
        shown.isEmpty ? (follow ? "No events yet; following." : "No events.") : table.render())
    }
    guard follow else { return }
    while !Task.isCancelled {
      try await Task.sleep(for: .seconds(1))
      let from = cursor
      let page = try await Exit.guarding { try await client.events(after: from, limit: 1000) }
      cursor = page.last?.seq ?? cursor
      for event in page where matches(event) {
        // Written unbuffered: a follower piped into another program sees each event at once.
        let line: String
        switch global.output {
        case .json:
          line = try Self.jsonLine(event)
        case .table:
          line =
            "\(event.seq ?? 0)  \(Self.time(event.at))  \(event.actor)  \(event.kind)  \(event.subject)  \(event.detail)"
        }
        Self.out(line)
      }
    }
  }

  private func matches(_ event: ClusterEvent) -> Bool {
    guard let app else { return true }
    return event.subject == app || event.subject.hasPrefix("\(app)/")
  }

  private static func out(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
  }

  private static func jsonLine(_ event: ClusterEvent) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .secondsSince1970
    return String(decoding: try encoder.encode(event), as: UTF8.self)
  }

  private static func time(_ date: Date) -> String {
    ISO8601DateFormatter().string(from: date)
  }
}
