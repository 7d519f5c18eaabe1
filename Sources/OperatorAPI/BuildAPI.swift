import Foundation
import SchedModel

/// `POST /v1/apps/APP/builds`: order a build. With `context_bytes` (the tar's size, checked
/// against the scheduler's bound before a byte is sent), the tar is then uploaded as a blob
/// of the image store and `POST /v1/builds/ID/start` names it; with `git` (or the spec's
/// `build.git`), the builder checks the ref out and the build starts at once.
public struct BuildCreateRequest: Codable, Sendable, Equatable {
  public var ref: String?
  public var kind: BuildKind
  /// The Dockerfile's path in the context; default: the spec's `build.dockerfile`.
  public var dockerfile: String?
  public var context: ContentDigest?
  public var contextBytes: Int64?
  public var git: String?

  public init(
    ref: String? = nil, kind: BuildKind = .appOnly, dockerfile: String? = nil,
    context: ContentDigest? = nil, contextBytes: Int64? = nil, git: String? = nil
  ) {
    self.ref = ref
    self.kind = kind
    self.dockerfile = dockerfile
    self.context = context
    self.contextBytes = contextBytes
    self.git = git
  }

  enum CodingKeys: String, CodingKey {
    case ref, kind, dockerfile, context, git
    case contextBytes = "context_bytes"
  }
}

/// `POST /v1/builds/ID/start`: the context blob, uploaded since the build was ordered.
public struct BuildStartRequest: Codable, Sendable, Equatable {
  public var context: ContentDigest?
  public init(context: ContentDigest?) { self.context = context }
}

/// A build as the API shows it; `upload` when the store still lacks the context blob.
public struct BuildView: Codable, Sendable, Equatable {
  public var build: BuildRecord
  public var upload: Bool
  /// Lines of output so far.
  public var logLines: Int

  public init(build: BuildRecord, upload: Bool = false, logLines: Int = 0) {
    self.build = build
    self.upload = upload
    self.logLines = logLines
  }

  enum CodingKeys: String, CodingKey {
    case build, upload
    case logLines = "log_lines"
  }
}

public struct BuildsResponse: Codable, Sendable, Equatable {
  public var builds: [BuildRecord]
  public init(builds: [BuildRecord]) { self.builds = builds }
}

/// `GET /v1/builds/ID/log?from=N&wait=S`: lines `from` on (waiting up to S seconds for
/// some), the index after the last, and whether the build is over (no more will come).
public struct BuildLogResponse: Codable, Sendable, Equatable {
  public var lines: [String]
  public var next: Int
  public var state: BuildRecord.State
  /// Lines dropped from the middle of a very long log.
  public var dropped: Int

  public init(lines: [String], next: Int, state: BuildRecord.State, dropped: Int = 0) {
    self.lines = lines
    self.next = next
    self.state = state
    self.dropped = dropped
  }
}

/// `POST /v1/apps/APP/hooks/secret`: a new secret for the build webhook, shown this once.
public struct HookSecretResponse: Codable, Sendable, Equatable {
  public var app: String
  public var secret: String
  public init(app: String, secret: String) {
    self.app = app
    self.secret = secret
  }
}
