import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import SchedWire
import Testing

/// Issue 14.9 to 14.12: input the scheduler must refuse, and how.
@Suite("Bounded input", .timeLimit(.minutes(1)))
struct BoundedInputTests {
  static let hex = "0000000000000000000000000000000000000000000000000000000000000000"

  @Test(
    "image references Docker takes",
    arguments: [
      "web", "web:2", "turnout-sample:1", "library/nginx:1.25-alpine", "a__b/c--d.e_f",
      "localhost:5000/team/web:1.2", "registry.example.com/a/b@sha256:\(hex)",
      "10.0.0.5:5000/web:v1_rc.2", "sha256:\(hex)", "web:latest@sha256:\(hex)",
    ])
  func validReferences(_ reference: String) {
    #expect(ImageReference.problem(reference) == nil, "\(ImageReference.problem(reference) ?? "")")
  }

  @Test(
    "image references Docker refuses, each with why",
    arguments: [
      ("a|b&c>d", "has '|'"), ("Web:1", "lower-case"), ("web:", "tag after ':' is empty"),
      (":1", "name is missing"), ("web:-x", "tag '-x'"), ("a//b", "path part is empty"),
      ("a_-b", "separator '_-'"), ("web@sha256:abc", "at least 32 hex digits"),
      ("sha256:abc", "64 hex digits"), ("", "an image reference is needed"),
      (String(repeating: "a", count: 5000), "too long"),
      (String(repeating: "a", count: 256), "at most 255"),
    ])
  func invalidReferences(_ reference: String, _ why: String) {
    let problem = ImageReference.problem(reference)
    #expect(problem?.contains(why) == true, "\(problem ?? "accepted")")
  }

  @Test("a spec asking for more than any host could have is refused; sums cannot overflow")
  func absurdDemandsAreRefused() {
    var spec = Fixtures.app("web")
    spec.resources.cpuMillis = .max
    #expect(throws: ModelError.self) { try spec.validate() }
    spec.resources = Resources(cpuMillis: 100, memoryBytes: .max)
    #expect(throws: ModelError.self) { try spec.validate() }
    spec.resources = AppSpec.maxDemand
    #expect((try? spec.validate()) != nil)
  }

  @Test("a demand no registered node can hold names the most any node offers")
  func demandBeyondEveryNode() {
    var spec = Fixtures.app("web")
    spec.resources = Resources(cpuMillis: 250_000, memoryBytes: 64 << 20)
    let nodes = [Fixtures.node("a"), Fixtures.node("b")]
    let problem = spec.demandProblem(nodes: nodes)
    #expect(problem?.contains("the most CPU is 4000m (a)") == true, "\(problem ?? "")")
    #expect(problem?.contains("write 250m for millicores") == true, "\(problem ?? "")")
    #expect(spec.demandProblem(nodes: []) == nil)
    spec.resources.cpuMillis = 250
    #expect(spec.demandProblem(nodes: nodes) == nil)
  }

  @Test("the API refuses a plan of 3,000,000 slots, bad images and unholdable demands")
  func apiRefusesUnboundedInput() async throws {
    let scheduler = try await InProcessScheduler.start()
    let agent = scheduler.startAgent("a")
    defer { agent.cancel() }
    let api = scheduler.api
    #expect(await eventually { (try? await api.nodes().count) == 1 })
    let started = ContinuousClock.now
    do {
      _ = try await api.plan(PlanRequest(slots: 3_000_000, cpuMillis: 1, memoryBytes: 1))
      Issue.record("a plan of 3,000,000 slots was computed")
    } catch {
      #expect(error.code == .badRequest)
      #expect(error.message.contains("at most 1000 slots"))
    }
    #expect(ContinuousClock.now - started < .seconds(2))
    var spec = Fixtures.app("web")
    spec.image = "a|b&c>d"
    await #expect(throws: ClientError.self) { _ = try await api.apply(spec) }
    spec.image = "web:1"
    spec.resources.cpuMillis = 250_000
    do {
      _ = try await api.apply(spec)
      Issue.record("250 cores per slot accepted on a 4-core cluster")
    } catch {
      #expect(error.code == .badRequest)
      #expect(error.message.contains("no registered node can ever hold"))
    }
    spec.resources.cpuMillis = 250
    _ = try await api.apply(spec)
    do {
      _ = try await api.deploy("web", image: "web:1 && rm -rf /")
      Issue.record("a bad image was deployed")
    } catch {
      #expect(error.code == .badRequest)
    }
    await scheduler.stop()
  }

  /// curl's status code and body for a POST of `bytes` to the deploy endpoint.
  static func post(_ port: Int, bytes: Int, expect: Bool) async throws -> (
    status: Int32, output: String
  ) {
    let file = temporaryDirectory("body").appendingPathComponent("body.json")
    try Data(repeating: UInt8(ascii: " "), count: bytes).write(to: file)
    var arguments = [
      "-s", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
      "-H", "Authorization: Bearer \(InProcessScheduler.apiToken)",
      "-H", "Content-Type: application/json", "--data-binary", "@\(file.path)",
      "http://127.0.0.1:\(port)/v1/apps/web/deploy",
    ]
    if !expect { arguments += ["-H", "Expect:"] }
    return try await run(URL(fileURLWithPath: "/usr/bin/curl"), arguments)
  }

  @Test("a 10 MB body gets a 413 with a JSON error, and the client does not hang (14.12)")
  func oversizedBodyIsAnswered() async throws {
    guard TestEnvironment.has(FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")) else {
      return
    }
    let scheduler = try await InProcessScheduler.start()
    for expect in [false, true] {
      let started = ContinuousClock.now
      let (status, output) = try await Self.post(scheduler.apiPort, bytes: 10 << 20, expect: expect)
      #expect(status == 0, "curl failed: \(output)")
      #expect(output.hasSuffix("\n413"), "\(output.suffix(300))")
      #expect(output.contains(#""code":"too_large""#), "\(output.suffix(300))")
      #expect(output.contains("limit of 1048576 bytes"))
      #expect(ContinuousClock.now - started < .seconds(10))
    }
    // The API still answers.
    #expect(try await scheduler.api.nodes().isEmpty)
    await scheduler.stop()
  }
}
