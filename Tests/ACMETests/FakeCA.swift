import ACME
import Crypto
import Foundation
import Synchronization

/// A small ACME server in memory, strict where the real ones are: every POST's signature is
/// checked against the account key, each nonce is good once, and a challenge's token must be
/// handed out (`presented`) before the client says the challenge is ready, or the
/// authorization goes invalid as the CA's fetch would. Faults are switched on by fields.
final class FakeCA: ACMETransport {
  struct State {
    var nonces: Set<String> = []
    var nonceCounter = 0
    var accounts: [String: String] = [:]  // jwk -> kid
    var presented: [String: String] = [:]  // token -> key authorization
    var authorizationStatus = "pending"
    var orderStatus = "pending"
    var finalizedCSR: Data?
    var log: [String] = []
    /// Answer the next N signed requests with badNonce.
    var badNonces = 0
    /// Forget every account once (as a restarted test CA does).
    var forgetAccounts = false
  }
  let state = Mutex(State())
  let base = "https://ca.test"
  let thumbprint: String

  init(key: AccountKey) { thumbprint = key.thumbprint }

  func presentedToken(_ token: String, _ keyAuthorization: String) {
    state.withLock { $0.presented[token] = keyAuthorization }
  }

  func send(_ url: String, body: Data?, head: Bool) async throws(ACMEError) -> ACMEResponse {
    state.withLock { state in
      state.log.append(url.replacingOccurrences(of: base, with: ""))
      let nonce = "n\(state.nonceCounter)"
      state.nonceCounter += 1
      state.nonces.insert(nonce)
      var headers = ["Replay-Nonce": nonce]
      if url == "\(base)/directory" {
        return ACMEResponse(
          status: 200, headers: headers,
          body: Data(
            #"{"newNonce":"\#(base)/nonce","newAccount":"\#(base)/account","newOrder":"\#(base)/order"}"#
              .utf8))
      }
      if url == "\(base)/nonce" { return ACMEResponse(status: 200, headers: headers, body: Data()) }
      guard let body, let jws = try? JSONSerialization.jsonObject(with: body) as? [String: String],
        let protected = jws["protected"].flatMap(Base64URL.decode),
        let header = try? JSONSerialization.jsonObject(with: protected) as? [String: Any],
        let used = header["nonce"] as? String, header["url"] as? String == url
      else { return Self.problem("malformed", headers) }
      guard state.nonces.remove(used) != nil else { return Self.problem("badNonce", headers) }
      if state.badNonces > 0 {
        state.badNonces -= 1
        return Self.problem("badNonce", headers)
      }
      let payload = jws["payload"].flatMap(Base64URL.decode) ?? Data()
      if url == "\(base)/account" {
        guard let jwk = header["jwk"] as? [String: String], let x = jwk["x"], let y = jwk["y"],
          Self.verify(jws, x: x, y: y)
        else { return Self.problem("unauthorized", headers) }
        let kid = state.accounts[x + y] ?? "\(base)/acct/\(state.accounts.count + 1)"
        state.accounts[x + y] = kid
        headers["Location"] = kid
        return ACMEResponse(status: 201, headers: headers, body: Data("{}".utf8))
      }
      guard let kid = header["kid"] as? String,
        let owner = state.accounts.first(where: { $0.value == kid })?.key
      else { return Self.problem("accountDoesNotExist", headers) }
      if state.forgetAccounts {
        state.forgetAccounts = false
        state.accounts = [:]
        return Self.problem("accountDoesNotExist", headers)
      }
      guard Self.verify(jws, x: String(owner.prefix(43)), y: String(owner.suffix(43))) else {
        return Self.problem("unauthorized", headers)
      }
      switch url {
      case "\(base)/order":
        headers["Location"] = "\(base)/order/1"
        return ACMEResponse(status: 201, headers: headers, body: order(state))
      case "\(base)/order/1":
        return ACMEResponse(status: 200, headers: headers, body: order(state))
      case "\(base)/authz/1":
        return ACMEResponse(status: 200, headers: headers, body: authorization(state))
      case "\(base)/chall/1":
        // The CA looks now: the token must already be out there.
        state.authorizationStatus =
          state.presented["tok1"] == "tok1.\(thumbprint)" ? "valid" : "invalid"
        return ACMEResponse(status: 200, headers: headers, body: Data("{}".utf8))
      case "\(base)/finalize/1":
        guard let csr = try? JSONSerialization.jsonObject(with: payload) as? [String: String],
          let der = csr["csr"].flatMap(Base64URL.decode)
        else { return Self.problem("badCSR", headers) }
        state.finalizedCSR = der
        state.orderStatus = "valid"
        return ACMEResponse(status: 200, headers: headers, body: order(state))
      case "\(base)/cert/1":
        return ACMEResponse(
          status: 200, headers: headers,
          body: Data("-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n".utf8))
      default:
        return ACMEResponse(status: 404, headers: headers, body: Data())
      }
    }
  }

  private func order(_ state: State) -> Data {
    let certificate = state.orderStatus == "valid" ? #","certificate":"\#(base)/cert/1""# : ""
    return Data(
      #"{"status":"\#(state.orderStatus)","identifiers":[{"type":"dns","value":"www.example.test"}],"authorizations":["\#(base)/authz/1"],"finalize":"\#(base)/finalize/1"\#(certificate)}"#
        .utf8)
  }

  private func authorization(_ state: State) -> Data {
    let error =
      state.authorizationStatus == "invalid"
      ? #","error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"404 at the challenge URL"}"#
      : ""
    return Data(
      #"{"status":"\#(state.authorizationStatus)","identifier":{"type":"dns","value":"www.example.test"},"challenges":[{"type":"http-01","url":"\#(base)/chall/1","status":"\#(state.authorizationStatus)","token":"tok1"\#(error)}]}"#
        .utf8)
  }

  static func problem(_ type: String, _ headers: [String: String]) -> ACMEResponse {
    ACMEResponse(
      status: 400, headers: headers.merging(["Content-Type": "application/problem+json"]) { $1 },
      body: Data(
        #"{"type":"urn:ietf:params:acme:error:\#(type)","detail":"fake CA says \#(type)"}"#.utf8))
  }

  /// ES256 over `protected.payload` with the key whose coordinates are `x`, `y`.
  static func verify(_ jws: [String: String], x: String, y: String) -> Bool {
    guard let protected = jws["protected"], let payload = jws["payload"],
      let raw = jws["signature"].flatMap(Base64URL.decode),
      let xb = Base64URL.decode(x), let yb = Base64URL.decode(y),
      let key = try? P256.Signing.PublicKey(x963Representation: [4] + xb + yb),
      let signature = try? P256.Signing.ECDSASignature(rawRepresentation: raw)
    else { return false }
    return key.isValidSignature(signature, for: Data("\(protected).\(payload)".utf8))
  }
}
