/// What TLS vouched for on a connection: the role and name in the peer's cluster certificate
/// (checked against the cluster CA during the handshake), and what the scheduler's records say
/// of that certificate.
public struct CertifiedPeer: Sendable, Hashable {
  public enum Standing: Sendable, Hashable {
    case valid
    /// Revoked when its node was removed.
    case revoked
    /// Not a certificate this scheduler's records know (a replaced database).
    case unknown
  }

  public var role: PeerRole
  public var name: String
  public var standing: Standing

  public init(role: PeerRole, name: String, standing: Standing) {
    self.role = role
    self.name = name
    self.standing = standing
  }
}

/// Decides whether a `hello` is let in: the role is served, the peer is who it says (by its
/// certificate, or by the token's secret), a version is shared. Pure: the scheduler hands in
/// its settings and what TLS saw, and sends what comes out.
public struct Admission: Sendable {
  /// Join token (its secret) per role; a role with no token is not served.
  public var tokens: [PeerRole: String]
  public var heartbeatMillis: Int64
  public var ttlMillis: Int64
  /// The cluster's id, sent in every welcome.
  public var cluster: String?
  /// TLS on the cluster port: a peer without a certificate must ask for one (a `csr` with its
  /// token) so that every later connection is proved by it.
  public var requireCertificates: Bool

  public init(
    tokens: [PeerRole: String], heartbeatMillis: Int64, ttlMillis: Int64, cluster: String? = nil,
    requireCertificates: Bool = false
  ) {
    self.tokens = tokens
    self.heartbeatMillis = heartbeatMillis
    self.ttlMillis = ttlMillis
    self.cluster = cluster
    self.requireCertificates = requireCertificates
  }

  /// `welcome` for a good hello; otherwise the `error` to send before closing. `certified` is
  /// what the connection's client certificate says, when it presented one.
  public func admit(_ hello: Hello, certified: CertifiedPeer? = nil) -> Result<Welcome, ErrorReply>
  {
    guard let expected = tokens[hello.role] else {
      let hint = hello.role == .router ? "; start schedd with --router-token to let routers in" : ""
      return .failure(
        ErrorReply(
          code: .unauthorized,
          message: "this scheduler does not accept \(hello.role.rawValue)s\(hint)"))
    }
    if let certified {
      if let refusal = Self.check(certified, against: hello) { return .failure(refusal) }
      return welcome(hello)
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
    if requireCertificates && hello.csr == nil {
      return .failure(
        ErrorReply(
          code: .unauthorized,
          message:
            "\(hello.role.rawValue) '\(hello.node)' has no certificate and asked for none: this cluster port needs one. Give it the whole join token (TRN-1-..., from schedctl node join-command)"
        ))
    }
    return welcome(hello)
  }

  private func welcome(_ hello: Hello) -> Result<Welcome, ErrorReply> {
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

  /// Why a certified peer's hello is refused, or nil: the certificate must be one the
  /// scheduler issued and still honours, for the role and the name the hello gives.
  static func check(_ certified: CertifiedPeer, against hello: Hello) -> ErrorReply? {
    let who = "\(certified.role.rawValue) '\(certified.name)'"
    switch certified.standing {
    case .revoked:
      return ErrorReply(
        code: .unauthorized,
        message:
          "\(who) was removed from the cluster: its certificate is revoked. To join again, remove its credentials directory and give it a join token"
      )
    case .unknown:
      return ErrorReply(
        code: .unauthorized,
        message:
          "the certificate of \(who) is not one this scheduler issued (was its database replaced?): remove the node's credentials directory and join again with a join token"
      )
    case .valid: break
    }
    guard certified.role == hello.role else {
      return ErrorReply(
        code: .unauthorized,
        message:
          "this connection's certificate is a \(certified.role.rawValue)'s, not a \(hello.role.rawValue)'s"
      )
    }
    guard certified.name == hello.node.rawValue else {
      return ErrorReply(
        code: .unauthorized,
        message:
          "this connection's certificate belongs to \(who); it cannot speak for '\(hello.node)'")
    }
    return nil
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
