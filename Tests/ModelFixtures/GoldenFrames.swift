import Foundation
import RouteTable
import SchedModel
import SchedWire

/// One example of every message, as values. `ProtocolGoldenTests` holds their exact lines, and
/// docs/PROTOCOL.md shows the same lines.
public enum GoldenFrames {
  public static let slot = SlotID(app: "web", color: .green, index: 2)

  public static let assignment = SlotAssignment(
    slot: slot, deployment: "d7", image: "turnout-sample:2",
    resources: Resources(cpuMillis: 250, memoryBytes: 134_217_728), hostPort: 20004,
    containerPort: 8080, env: ["MODE": "prod"],
    health: HealthCheck(path: "/healthz", intervalMillis: 1000, timeoutMillis: 500))

  public static let all: [(MessageType, Frame)] = [
    (
      .hello,
      Frame(
        id: "1",
        .hello(Hello(role: .agent, versions: [1], node: "web-1", token: "s3cret")))
    ),
    (
      .welcome,
      Frame(
        id: "1",
        .welcome(
          Welcome(
            version: 1, heartbeatMillis: 2000, ttlMillis: 6000,
            cluster: "c-0123456789abcdefghjkmnpqrs")))
    ),
    (
      .register,
      Frame(
        id: "2",
        .register(
          Register(
            node: NodeSpec(
              id: "web-1", name: "web-1", address: "10.0.0.5",
              capacity: Resources(cpuMillis: 4000, memoryBytes: 8_589_934_592),
              ports: try! PortRange(low: 20000, high: 20999), labels: ["zone": "home"]))))
    ),
    (.registered, Frame(id: "2", .registered(Registered(generation: 3)))),
    (
      .heartbeat,
      Frame(
        id: "hb17",
        .heartbeat(
          Heartbeat(
            usage: HostUsage(
              cpuUsedMillis: 730, memoryUsedBytes: 2_147_483_648,
              memoryAvailableBytes: 6_442_450_944),
            slots: [
              SlotStatus(
                slot: slot, deployment: "d7", containerID: "4f2a9c01b3e8", health: .healthy,
                startedAt: Date(timeIntervalSince1970: 1_795_750_000))
            ])))
    ),
    (
      .error,
      Frame(
        id: "7",
        .error(
          ErrorReply(
            code: .badField, message: "heartbeat: field 'usage.cpu_used_millis' must be an integer")
        ))
    ),
    (
      .command,
      Frame(
        id: "c41-3",
        .command(
          Command(
            generation: 3,
            action: .assign(AssignSlots(slots: [assignment], images: [imageSource])))))
    ),
    (.commandAck, Frame(id: "c41-3", .commandAck(CommandAck(ok: true, message: "started")))),
    (
      .command,
      Frame(
        id: "c42-3",
        .command(
          Command(
            generation: 3,
            action: .runTest(
              RunTest(
                run: "v7-db", app: "web", image: "sha256:" + String(repeating: "ab", count: 32),
                test: TestSpec(
                  name: "db", command: ["sh", "-c", "wget -qO- http://db:8080/version"],
                  timeoutMillis: 60000,
                  companions: [CompanionSpec(name: "db", image: "turnout-sample:1")]),
                cpuMillis: 250, memoryBytes: 134_217_728)))))
    ),
    (
      .commandAck,
      Frame(
        id: "c42-3",
        .commandAck(
          CommandAck(
            ok: false, message: "test db failed with code 1",
            test: TestOutcome(
              exitCode: 1, durationMillis: 812, output: "wget: bad address 'db:8080'\n"))))
    ),
    (
      .command,
      Frame(
        id: "c43-3",
        .command(
          Command(
            generation: 3,
            action: .checkSlot(
              CheckSlot(
                slot: SlotID(app: "web", color: .green, index: 2), hostPort: 20004,
                check: CheckSpec(name: "home", http: HTTPCheck(path: "/", status: 200)))))))
    ),
    (
      .commandAck,
      Frame(
        id: "c43-3",
        .commandAck(
          CommandAck(
            ok: true, message: "check home of slot web/green/2: 200 in 3 ms",
            check: CheckOutcome(passed: true, durationMillis: 3, detail: "200 in 3 ms"))))
    ),
    (.routes, Frame(id: "r12", .routes(SchedWire.Routes(phase: .prepare, table: table)))),
    (.commit, Frame(id: "r13", .commit(Commit(epoch: 1_795_750_000_123)))),
    (
      .abort,
      Frame(
        id: "r14",
        .abort(
          Abort(
            epoch: 1_795_750_000_123, reason: "no ack in time from router(s) edge-2")))
    ),
    (.routeAck, Frame(id: "r12", .routeAck(RouteAck(epoch: 1_795_750_000_123, ok: true)))),
    (.drain, Frame(id: "r15", .drain(Drain(app: "web", color: .blue, timeoutMillis: 30000)))),
    (.drained, Frame(id: "r15", .drained(Drained(app: "web", color: .blue, inFlight: 0)))),
    (
      .routerReport,
      Frame(
        id: "rr9",
        .routerReport(
          RouterReport(
            epoch: 1_795_750_000_123, traffic: [traffic],
            startedAt: Date(timeIntervalSince1970: 1_795_749_000.5))))
    ),
    (
      .previewCheck,
      Frame(
        id: "r16",
        .previewCheck(
          PreviewCheck(
            app: "web", host: "web.example.com",
            check: CheckSpec(name: "version", http: HTTPCheck(path: "/version")), color: .blue,
            deployment: "d6")))
    ),
    (
      .previewChecked,
      Frame(
        id: "r16",
        .previewChecked(
          PreviewChecked(
            outcome: CheckOutcome(passed: true, durationMillis: 4, detail: "200 in 4 ms"))))
    ),
    (.fetchBlob, Frame(id: "f1", .fetchBlob(FetchBlob(digest: layer, offset: 1_048_576)))),
    (
      .blob,
      Frame(id: "f1", .blob(BlobHeader(digest: layer, size: 2_088_960, offset: 1_048_576)))
    ),
    (
      .command,
      Frame(
        id: "c44-3",
        .command(
          Command(
            generation: 3,
            action: .build(
              BuildOrder(
                build: "web-12", app: "web", context: layer, dockerfile: "Dockerfile",
                kind: .appOnly, reference: "web:main-b12", timeoutMillis: 1_800_000,
                cpuMillis: 1000, memoryBytes: 1 << 30)))))
    ),
    (
      .buildLog,
      Frame(
        .buildLog(
          BuildLog(
            build: "web-12", from: 40,
            lines: ["Step 3/6 : RUN make", " ---> Running in 605b42338074"])))
    ),
    (
      .commandAck,
      Frame(
        id: "c44-3",
        .commandAck(
          CommandAck(
            ok: true,
            build: BuildOutcome(
              manifest: imageSource.manifest, image: imageSource.config, layers: [layer],
              steps: 6, cachedSteps: 2, uploadedBytes: 4096))))
    ),
    (.checkBlobs, Frame(id: "check", .checkBlobs(CheckBlobs(digests: [layer])))),
    (.missingBlobs, Frame(id: "check", .missingBlobs(MissingBlobs(digests: [layer])))),
    (.putBlob, Frame(id: "sha256:5e5e5e5e5e5e", .putBlob(PutBlob(digest: layer, size: 2_088_960)))),
    (
      .stored,
      Frame(id: "sha256:5e5e5e5e5e5e", .stored(BlobStored(digest: layer, size: 2_088_960)))
    ),
    (
      .certificates,
      Frame(
        .certificates(
          EdgeCertificates(
            version: 7,
            certificates: [
              EdgeCertificate(
                name: "web.example.com",
                chain: "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n",
                key: "-----BEGIN PRIVATE KEY-----\nMIGH...\n-----END PRIVATE KEY-----\n",
                notBefore: Date(timeIntervalSince1970: 1_790_000_000),
                notAfter: Date(timeIntervalSince1970: 1_797_776_000), issuer: "CN=Example CA",
                source: "operator", fingerprint: "5e5e5e5e")
            ])))
    ),
    (
      .acmeChallenges,
      Frame(
        id: "q12",
        .acmeChallenges(
          ACMEChallenges(tokens: [
            "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0":
              "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
          ])))
    ),
    (.challengesHeld, Frame(id: "q12", .challengesHeld(ChallengesHeld(count: 1)))),
  ]

  public static let layer = ContentDigest(rawValue: "sha256:" + String(repeating: "5e", count: 32))!

  /// Where the slot's image is in the cluster's image store.
  public static let imageSource = ImageSource(
    reference: "turnout-sample:2",
    manifest: ContentDigest(rawValue: "sha256:" + String(repeating: "cd", count: 32))!,
    config: ContentDigest(rawValue: "sha256:" + String(repeating: "ef", count: 32))!,
    size: 2_097_152)

  public static let table = RouteTable(
    epoch: 1_795_750_000_123,
    apps: [
      AppRoutes(
        app: "web", hosts: ["web.example.com"],
        live: RouteSet(
          color: .green, deployment: "d7", image: "turnout-sample:2",
          upstreams: [Upstream(slot: slot, address: "10.0.0.5", port: 20004)]),
        candidate: RouteSet(
          color: .blue, deployment: "d6", image: "turnout-sample:1",
          upstreams: [
            Upstream(
              slot: SlotID(app: "web", color: .blue, index: 0), address: "10.0.0.6", port: 20001)
          ]))
    ])

  public static var traffic: SetTraffic {
    var t = SetTraffic(app: "web", color: .green)
    t.record(.success, micros: 800)
    t.record(.success, micros: 1900)
    t.record(.proxyError, micros: 120)
    t.inFlight = 1
    return t
  }
}
