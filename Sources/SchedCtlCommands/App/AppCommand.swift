import ArgumentParser
import Foundation
import OperatorAPI
import SchedModel

/// `schedctl app`: create and list apps.
struct AppCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "app", abstract: "Create, update and list apps.",
    subcommands: [AppApplyCommand.self, AppListCommand.self, AppHookSecretCommand.self])
}

/// `schedctl app apply FILE`: create or update an app from a YAML spec.
struct AppApplyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "apply", abstract: "Create or update an app from a YAML spec file.",
    usage: "schedctl app apply <file> [<global options>]",
    discussion: """
      A spec file (every field but the first five is optional):

        name: web                 # lowercase letters, digits, '-'
        image: turnout-sample:1   # the default image of `schedctl deploy`
        slots: 4                  # containers per color
        cpu: 250m                 # per slot: 250m, 0.5, 2 (cores)
        memory: 64Mi              # per slot: 64Mi, 1Gi
        port: 8080                # the port the app listens on in its container
        network: bridge           # or host (needs sched-agent --allow-host-network)
        env: { MODE: prod }
        health:
          path: /healthz
          interval: 1s
          timeout: 500ms
          healthy_threshold: 1
          unhealthy_threshold: 3
        constraints: { zone: home }   # node labels required
        max_per_node: 2
        security:                 # each needs a sched-agent --allow-* flag
          privileged: false
          binds: []
          cap_add: []
          host_pid: false
          host_ipc: false
          devices: []
        hosts: [www.example.com]  # Host headers routers send to this app
        https:                    # routers with --tls-listen and a certificate
          redirect: true          # plain HTTP gets a 308 to HTTPS
          hsts: max-age=31536000  # Strict-Transport-Security on HTTPS answers
        secrets: [DB_PASSWORD]    # env variables from `schedctl secret set`
        secret_files: [TLS_KEY]   # read-only files /run/secrets/TLS_KEY
        keep_warm: 30m            # retire the old set this long after a switch
        drain_timeout: 30s        # how long a retire waits for requests in flight
        tests:                    # run by `schedctl verify` in throwaway
          - name: unit            # containers of the candidate's exact image
            command: ./run-tests  # a line for sh -c, or a list: [./run, --fast]
            timeout: 5m
            env: { DATABASE_URL: "postgres://db/test" }
            companions:           # on a private network, reachable by name
              - { name: db, image: postgres:16, env: { POSTGRES_PASSWORD: x } }
        checks:                   # against every candidate slot and a preview
          - name: home
            http: { path: /, status: 200, body_contains: Welcome }
          - { name: port, tcp: true, timeout: 1s }
        log:                      # the containers' log driver, given to Docker
          driver: fluentd         # json-file, local, syslog, journald, none...
          options: { fluentd-address: 127.0.0.1:24224, tag: web }

      Errors name the line and the field. Applying changes no running container; the next \
      deploy uses the new spec.
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The YAML spec file.")
  var file: String

  /// Why `file` cannot be read, as the system says it.
  static func reason(_ file: String, _ fallback: String) -> String {
    let files = FileManager.default
    var isDirectory: ObjCBool = false
    guard files.fileExists(atPath: file, isDirectory: &isDirectory) else {
      return "no such file (check the path; it is relative to \(files.currentDirectoryPath))"
    }
    if isDirectory.boolValue { return "it is a directory; name the YAML file in it" }
    if !files.isReadableFile(atPath: file) { return "permission denied" }
    return fallback
  }

  func run() async throws {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: file))
    } catch {
      throw ValidationError(
        "cannot read the spec file \(file): \(Self.reason(file, (error as NSError).localizedDescription))"
      )
    }
    let spec: AppSpec
    do {
      spec = try AppSpecFile.parse(String(decoding: data, as: UTF8.self), file: file)
    } catch {
      FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
      throw ExitCode(Exit.dataError)
    }
    let client = try global.client()
    let record = try await Exit.guarding { try await client.apply(spec) }
    switch global.output {
    case .json: try printJSON(record)
    case .table:
      print(
        "applied \(spec.name): \(spec.slots) x \(spec.image), \(Quantity.formatCPU(spec.resources.cpuMillis)) CPU and \(Quantity.formatMemory(spec.resources.memoryBytes)) per slot"
      )
    }
  }
}

/// `schedctl app list`.
struct AppListCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "List the apps.",
    usage: "schedctl app list [<global options>]")

  @OptionGroup var global: GlobalOptions

  func run() async throws {
    let client = try global.client()
    let apps = try await Exit.guarding { try await client.apps() }
    switch global.output {
    case .json: try printJSON(AppsResponse(apps: apps))
    case .table:
      var table = Table("APP", "IMAGE", "SLOTS", "CPU", "MEMORY", "LIVE")
      for app in apps {
        table.add(
          app.name, app.spec.image, String(app.spec.slots),
          Quantity.formatCPU(app.spec.resources.cpuMillis),
          Quantity.formatMemory(app.spec.resources.memoryBytes), app.live?.rawValue ?? "-")
      }
      print(apps.isEmpty ? "No apps yet. Create one with schedctl app apply FILE." : table.render())
    }
  }
}
