import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SchedModel

/// Runs one infra check against one address: an HTTP request with its expectations, or a TCP
/// connect. Through a router's preview route, the answer must also carry the candidate's color
/// and deployment stamps: proof that the candidate, not the live set, answered. Agents run it
/// against their own slots, so the scheduler dials no node.
public enum CheckRunner {
  /// How one check went.
  public struct Result: Sendable, Equatable {
    public var passed: Bool
    public var millis: Int64
    public var detail: String

    public init(passed: Bool, millis: Int64, detail: String) {
      self.passed = passed
      self.millis = millis
      self.detail = detail
    }
  }

  public static func millis(_ duration: Duration) -> Int64 {
    let (seconds, atto) = duration.components
    return seconds * 1000 + atto / 1_000_000_000_000_000
  }

  public static func run(
    _ check: CheckSpec, address: String, hostHeader: String?, expect: (Color, String)?
  ) async -> Result {
    let started = ContinuousClock.now
    let timeout = TimeAmount.milliseconds(check.timeoutMillis)
    guard let http = check.http else {
      guard let (host, port) = split(address) else {
        return Result(passed: false, millis: 0, detail: "'\(address)' is not HOST:PORT")
      }
      do {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
          .connectTimeout(timeout).connect(host: host, port: port).get()
        try? await channel.close()
        return Result(
          passed: true, millis: millis(ContinuousClock.now - started), detail: "port open")
      } catch {
        return Result(
          passed: false, millis: millis(ContinuousClock.now - started),
          detail: "cannot connect: \(error)")
      }
    }
    var request = HTTPClientRequest(url: "http://\(address)\(http.path)")
    if let hostHeader { request.headers.replaceOrAdd(name: "Host", value: hostHeader) }
    do {
      let response = try await HTTPClient.shared.execute(request, timeout: timeout)
      let body = try await response.body.collect(upTo: 1 << 20)
      let elapsed = millis(ContinuousClock.now - started)
      let text = String(buffer: body)
      var problems: [String] = []
      if Int(response.status.code) != http.status {
        problems.append("status \(response.status.code), expected \(http.status)")
      }
      if let wanted = http.bodyContains, !text.contains(wanted) {
        problems.append("the body does not contain '\(wanted)'")
      }
      if let bound = http.maxLatencyMillis, elapsed > bound {
        problems.append("took \(elapsed) ms, over the \(bound) ms bound")
      }
      if let (color, deployment) = expect {
        let seenColor = response.headers.first(name: "x-turnout-color")
        let seenDeployment = response.headers.first(name: "x-turnout-deployment")
        if seenColor == nil {
          problems.append(
            "the answer carries no x-turnout-color stamp (is the router running with --no-stamp?), so the candidate cannot be told from the live set"
          )
        } else if seenColor != color.rawValue || seenDeployment != deployment {
          problems.append(
            "answered by \(seenColor ?? "?") (\(seenDeployment ?? "?")), not the candidate \(color.rawValue) (\(deployment))"
          )
        }
      }
      return Result(
        passed: problems.isEmpty, millis: elapsed,
        detail: problems.isEmpty
          ? "\(response.status.code) in \(elapsed) ms" : problems.joined(separator: "; "))
    } catch {
      return Result(
        passed: false, millis: millis(ContinuousClock.now - started),
        detail: "GET \(http.path) failed: \(error)")
    }
  }

  /// `HOST:PORT` or `[V6]:PORT`.
  public static func split(_ address: String) -> (String, Int)? {
    guard let colon = address.lastIndex(of: ":"),
      let port = Int(address[address.index(after: colon)...])
    else { return nil }
    var host = String(address[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
  }
}
