import AgentCore
import Foundation
import OperatorAPI
import SchedModel
import Testing

@testable import SchedCtlCommands

@Suite("App spec files")
struct AppSpecFileTests {
  @Test func aFullSpec() throws {
    let spec = try AppSpecFile.parse(
      """
      name: web
      image: turnout-sample:1
      slots: 4
      cpu: 250m
      memory: 64Mi
      port: 9090
      network: host
      env: { MODE: prod }
      health: { path: /up, interval: 2s, timeout: 300ms, healthy_threshold: 2 }
      constraints: { zone: home }
      max_per_node: 2
      security: { privileged: true }
      """, file: "web.yaml")
    #expect(spec.name == "web")
    #expect(spec.slots == 4)
    #expect(spec.resources == Resources(cpuMillis: 250, memoryBytes: 64 << 20))
    #expect(spec.containerPort == 9090)
    #expect(spec.network == .host)
    #expect(spec.env == ["MODE": "prod"])
    #expect(
      spec.health
        == HealthCheck(path: "/up", intervalMillis: 2000, timeoutMillis: 300, healthyThreshold: 2))
    #expect(spec.constraints == ["zone": "home"])
    #expect(spec.maxPerNode == 2)
    #expect(spec.security.privileged)
  }

  @Test("errors name the file's own field: port, not the API's container_port (14.18)")
  func portErrorNamesPort() {
    let text = "name: web\nimage: web:1\nslots: 1\ncpu: 100m\nmemory: 64Mi\nport: 70000\n"
    #expect(problem(text) == "app.yaml:6: port: must be 1 to 65535")
    #expect(
      problem("name: web\nimage: a|b\nslots: 1\ncpu: 100m\nmemory: 64Mi\n")?.hasPrefix(
        "app.yaml:2: image: 'a|b' is not an image reference") == true)
  }

  func problem(_ text: String) -> String? {
    do {
      _ = try AppSpecFile.parse(text, file: "app.yaml")
      return nil
    } catch {
      return error.description
    }
  }

  @Test("log: the driver and its options, with errors that name the field")
  func logDriver() throws {
    let base = "name: web\nimage: x:1\nslots: 2\ncpu: 100m\nmemory: 32Mi\n"
    let spec = try AppSpecFile.parse(
      base + "log: { driver: fluentd, options: { fluentd-address: 127.0.0.1:24224, tag: web } }\n",
      file: "app.yaml")
    #expect(
      spec.log
        == LogConfig(
          driver: "fluentd", options: ["fluentd-address": "127.0.0.1:24224", "tag": "web"]))
    #expect(try AppSpecFile.parse(base, file: "app.yaml").log == nil)
    #expect(
      problem(base + "log: { driver: json-file, size: 1m }\n")
        == "app.yaml:6: log.size: unknown field; known fields: driver, options")
    #expect(
      problem(base + "log: { driver: \"my driver\" }\n")
        == "app.yaml:6: log.driver: 'my driver' is not a log driver name (json-file, fluentd, ...)")
    // The agent gets it with each slot, and hands it to the runtime.
    let assignment = SlotAssignment(
      slot: SlotID(app: "web", color: .blue, index: 0), deployment: "d", image: "x:1",
      resources: Resources(cpuMillis: 100, memoryBytes: 32 << 20), hostPort: 20000,
      containerPort: 8080, log: spec.log)
    let decoded = try JSONDecoder().decode(
      SlotAssignment.self, from: try JSONEncoder().encode(assignment))
    #expect(decoded.log == spec.log)
    #expect(
      Reconciler.containerSpec(for: decoded, node: "n1", publishAddress: "127.0.0.1").log
        == spec.log)
  }

  @Test("secrets are named, never given: env names and file names, each once, none in env")
  func secretNames() throws {
    let base = "name: web\nimage: x:1\nslots: 2\ncpu: 100m\nmemory: 32Mi\nenv: { MODE: prod }\n"
    let spec = try AppSpecFile.parse(
      base + "secrets: [DB_PASSWORD]\nsecret_files: [TLS_KEY]\n", file: "app.yaml")
    #expect(spec.secrets == ["DB_PASSWORD"] && spec.secretFiles == ["TLS_KEY"])
    #expect(problem(base + "secrets: [MODE]\n")?.contains("'MODE' is also in env") == true)
    #expect(
      problem(base + "secrets: [A]\nsecret_files: [A]\n")?.contains("'A' is named twice") == true)
    #expect(
      problem(base + "secrets: [db-password]\n")?.contains("is not a secret name") == true)
    #expect(problem(base + "secrets: [\"1X\"]\n")?.contains("app.yaml:7: secrets") == true)
  }

  @Test("https: the redirect and the HSTS value, checked")
  func httpsSettings() throws {
    let base = "name: web\nimage: x:1\nslots: 2\ncpu: 100m\nmemory: 32Mi\n"
    let spec = try AppSpecFile.parse(
      base + "https: { redirect: true, hsts: max-age=31536000; includeSubDomains }\n",
      file: "app.yaml")
    #expect(
      spec.https == HTTPSSettings(redirect: true, hsts: "max-age=31536000; includeSubDomains"))
    #expect(problem(base + "https: { hsts: forever }\n")?.contains("https.hsts") == true)
    #expect(problem(base + "https: { redirect: yes please }\n")?.contains("https.redirect") == true)
    // ACME: certificates for the hosts, so it needs hosts, and HTTP-01 cannot prove a wildcard.
    let acme = try AppSpecFile.parse(
      base + "hosts: [shop.example.com]\nhttps: { acme: true }\n", file: "app.yaml")
    #expect(acme.https?.acme == true)
    #expect(problem(base + "https: { acme: true }\n")?.contains("needs hosts") == true)
    #expect(
      problem(base + "hosts: [\"*.example.com\"]\nhttps: { acme: true }\n")?.contains(
        "cannot be proved over HTTP-01") == true)
  }

  @Test("cert list: each name's certificate, and the ACME state of names the scheduler keeps")
  func certificateList() {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let status = CertificatesResponse(
      certificates: [
        CertificateView(
          name: "shop.example.com", issuer: "CN=Pebble Intermediate CA", notBefore: now,
          notAfter: now.addingTimeInterval(90 * 86400), source: "acme", fingerprint: "ab")
      ],
      acme: [
        ACMENameView(
          name: "shop.example.com", app: "shop", state: "valid",
          nextAttempt: now.addingTimeInterval(60 * 86400), failures: 0, lastError: nil),
        ACMENameView(
          name: "new.example.com", app: "shop", state: "failing",
          nextAttempt: now.addingTimeInterval(120), failures: 2,
          lastError: "the CA could not check http://new.example.com/...: 404"),
      ])
    let text = CertListCommand.render(status, now: now)
    let lines = text.split(separator: "\n").map(String.init)
    #expect(lines.contains { $0.contains("shop.example.com") && $0.contains("renews in 60d") })
    #expect(
      lines.contains { $0.hasPrefix("new.example.com") && $0.contains("failing (2x), retry in 2m") }
    )
    #expect(lines.last == "new.example.com: the CA could not check http://new.example.com/...: 404")
  }

  @Test func errorsNameTheLineAndTheField() {
    let base = "name: web\nimage: x:1\nslots: 2\ncpu: 100m\nmemory: 32Mi\n"
    #expect(
      problem(base + "health:\n  interval: soon\n")
        == "app.yaml:7: health.interval: duration 'soon' is not valid: write it like 500ms, 2s or 1m"
    )
    #expect(
      problem(base + "colour: blue\n")
        == "app.yaml:6: colour: unknown field; known fields: name, image, slots, cpu, memory, port, env, health, network, constraints, max_per_node, security, hosts, keep_warm, drain_timeout, tests, checks, log, build, secrets, secret_files, https"
    )
    #expect(
      problem("name: web\nimage: x:1\nslots: many\ncpu: 1\nmemory: 1Gi\n")
        == "app.yaml:3: slots: must be a whole number")
    #expect(
      problem("name: web\nimage: x:1\nslots: 2\ncpu: lots\nmemory: 1Gi\n")?.hasPrefix(
        "app.yaml:4: cpu: CPU 'lots' is not valid") == true)
    #expect(
      problem("name: Web!\nimage: x:1\nslots: 2\ncpu: 1\nmemory: 1Gi\n")?.hasPrefix(
        "app.yaml:1: name: app name 'Web!' is not valid") == true)
    #expect(
      problem("name: web\nimage: x:1\nslots: 2\ncpu: 1\nmemory: 1Mi\n")?.hasPrefix(
        "app.yaml:5: memory: must be at least 6Mi") == true)
    #expect(problem("image: x:1\n")?.contains("name: missing") == true)
    #expect(problem("- just\n- a list\n")?.contains("must be a mapping") == true)
    #expect(problem("name: [unclosed\n")?.contains("not valid YAML") == true)
  }

  @Test("tests with companions and checks read from YAML, with errors that name the entry")
  func testsAndChecks() throws {
    let base = "name: web\nimage: x:1\nslots: 2\ncpu: 100m\nmemory: 32Mi\n"
    let spec = try AppSpecFile.parse(
      base + """
        tests:
          - name: unit
            command: test -f /www/index.html
          - name: db
            command: [wget, -qO-, "http://db:8080/version"]
            timeout: 30s
            env: { A: b }
            companions:
              - { name: db, image: "turnout-sample:1", env: { PORT: "8080" } }
        checks:
          - { name: home, http: { path: /, status: 200, body_contains: Turnout, max_latency: 500ms } }
          - { name: port, tcp: true, timeout: 1s }
        """, file: "web.yaml")
    #expect(spec.tests.map(\.name) == ["unit", "db"])
    #expect(spec.tests[0].command == ["sh", "-c", "test -f /www/index.html"])
    #expect(spec.tests[0].timeoutMillis == 300_000)
    #expect(spec.tests[1].command == ["wget", "-qO-", "http://db:8080/version"])
    #expect(spec.tests[1].timeoutMillis == 30_000)
    #expect(
      spec.tests[1].companions
        == [CompanionSpec(name: "db", image: "turnout-sample:1", env: ["PORT": "8080"])])
    #expect(
      spec.checks[0]
        == CheckSpec(
          name: "home",
          http: HTTPCheck(path: "/", status: 200, bodyContains: "Turnout", maxLatencyMillis: 500)))
    #expect(spec.checks[1] == CheckSpec(name: "port", http: nil, timeoutMillis: 1000))
    #expect(spec.checks[1].isTCP)

    #expect(
      problem(base + "tests:\n  - name: unit\n")?.contains("tests[0]: needs a command") == true)
    #expect(
      problem(base + "checks:\n  - { name: both, tcp: true, http: { path: / } }\n")?.contains(
        "give exactly one of http") == true)
    #expect(
      problem(base + "tests:\n  - { name: a, command: x }\n  - { name: a, command: y }\n")?
        .contains("two tests are named 'a'") == true)
    #expect(
      problem(
        base + "tests:\n  - name: a\n    command: x\n    companions: [{ name: DB, image: p }]\n")?
        .contains("'DB' is not a valid companion name") == true)
    #expect(
      problem(base + "checks:\n  - { name: c, http: { path: nope } }\n")?.contains(
        "path must start with '/'") == true)
  }
}
