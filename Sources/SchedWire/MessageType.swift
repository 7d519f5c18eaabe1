/// The `type` field of a line.
public enum MessageType: String, Sendable, CaseIterable, Codable {
  case hello
  case welcome
  case register
  case registered
  case heartbeat
  case error
  case command
  case commandAck = "command_ack"
  case routes
  case commit
  case abort
  case routeAck = "route_ack"
  case drain
  case drained
  case routerReport = "router_report"
  case previewCheck = "preview_check"
  case previewChecked = "preview_checked"
  case fetchBlob = "fetch_blob"
  case blob
  case buildLog = "build_log"
  case checkBlobs = "check_blobs"
  case missingBlobs = "missing_blobs"
  case putBlob = "put_blob"
  case stored
  case certificates
  case acmeChallenges = "acme_challenges"
  case challengesHeld = "challenges_held"
}

/// Who dialled the scheduler.
public enum PeerRole: String, Sendable, Codable, CaseIterable {
  case agent
  case router
}

/// A message body: its own fields, without the `v`/`type`/`id` head.
public protocol WireBody: Codable, Sendable, Equatable {
  static var type: MessageType { get }
}
