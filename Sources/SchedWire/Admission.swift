/// Decides whether a `hello` is let in: the role is served, the token matches, a version is
/// shared. Pure: the scheduler hands in its settings and sends what comes out.
public struct Admission: Sendable {
  /// Join token per role; a role with no token is not served.
  public var tokens: [PeerRole: String]
  public var heartbeatMillis: Int64
  public var ttlMillis: Int64
  /// The cluster's id, sent in every welcome.
  public var cluster: String?

  public init(
    tokens: [PeerRole: String], heartbeatMillis: Int64, ttlMillis: Int64, cluster: String? = nil
  ) {
    self.tokens = tokens
    self.heartbeatMillis = heartbeatMillis
    self.ttlMillis = ttlMillis
    self.cluster = cluster
  }

  /// `welcome` for a good hello; otherwise the `error` to send before closing.
  public func admit(_ hello: Hello) -> Result<Welcome, ErrorReply> {
    guard let expected = tokens[hello.role] else {
      let hint = hello.role == .router ? "; start schedd with --router-token to let routers in" : ""
      return .failure(
        ErrorReply(
          code: .unauthorized,
          message: "this scheduler does not accept \(hello.role.rawValue)s\(hint)"))
    }
    guard Self.constantTimeEqual(expected, hello.token) else {
      return .failure(
        ErrorReply(
          code: .unauthorized,
          message:
            hello.role == .router
            ? "router token refused for router '\(hello.node)'; give the router the scheduler's router token (--token or TURNOUT_ROUTER_TOKEN)"
            : "join token refused for agent '\(hello.node)'; give the agent the scheduler's join token (--token or TURNOUT_JOIN_TOKEN)"
        ))
    }
    guard let version = ProtocolVersion.negotiate(offered: hello.versions) else {
      return .failure(
        ErrorReply(
          code: .unsupportedVersion,
          message:
            "no shared protocol version: peer speaks \(hello.versions), scheduler speaks \(ProtocolVersion.supported); upgrade the older side"
        ))
    }
    return .success(
      Welcome(
        version: version, heartbeatMillis: heartbeatMillis, ttlMillis: ttlMillis, cluster: cluster))
  }

  /// Compares without stopping at the first difference, so timing does not leak the token.
  /// Used for join tokens here and for the API's bearer token.
  public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
      difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0
  }
}
