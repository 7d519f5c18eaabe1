import ArgumentParser
import Foundation
import SchedModel
import SchedWire

/// `schedctl events`: the append-only event log.
struct EventsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "events", abstract: "Show the event log: who did what, and when.")

  @OptionGroup var global: GlobalOptions

  @Option(help: "Show events after this sequence number.")
  var after: Int64 = 0

  @Option(help: "At most this many events (1 to 1000).")
  var limit: Int = 100

  func validate() throws {
    guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000") }
  }

  func run() async throws {
    let client = try global.client()
    let events = try await Exit.guarding { try await client.events(after: after, limit: limit) }
    switch global.output {
    case .json:
      try printJSON(EventsResponse(events: events))
    case .table:
      var table = Table("SEQ", "TIME", "ACTOR", "KIND", "SUBJECT", "DETAIL")
      let formatter = ISO8601DateFormatter()
      for event in events {
        table.add(
          String(event.seq ?? 0), formatter.string(from: event.at), event.actor, event.kind,
          event.subject, event.detail)
      }
      print(events.isEmpty ? "No events." : table.render())
    }
  }
}
