import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient
import SchedModel

/// `schedctl build APP`: build the app's image on a builder node into the image store.
struct BuildCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "build",
    abstract: "Build the app's image on a builder node and store it in the cluster.",
    usage:
      "schedctl build <app> [--context <dir> | --git <url> --ref <ref>] [--dockerfile <path>] [--full]",
    discussion: """
      The context (a directory, packed here honouring its .dockerignore, or a git ref the \
      builder checks out) goes to a node started with sched-agent --builder that has the CPU \
      and memory of the spec's build: section free (1 CPU and 1Gi by default), reserved while \
      it builds. Builds of one app run one at a time; the context is bounded (schedd \
      --max-build-context) and checked before it is sent.

      App-only (the default) reuses the builder's layer cache: only the steps after the first \
      changed file run again. --full rebuilds every layer with fresh base images.

      The output streams here as it runs. The image is stored as APP:REF-bN (N counts the \
      app's builds), pinned by digest, ready for schedctl deploy APP --image APP:REF-bN; \
      schedctl deploy APP --build ... builds and deploys in one go. A failed build exits 1 \
      and shows the step that failed with the end of its output.

      Examples:
        schedctl build web --context .
        schedctl build web --git https://git.example.com/web.git --ref main --full
      """)

  @OptionGroup var global: GlobalOptions
  @OptionGroup var source: BuildOptions

  @Argument(help: "The app whose image to build.")
  var app: String

  func run() async throws {
    let client = try global.client()
    let build = try await source.run(app: app, client: client, output: global.output)
    try BuildOptions.report(build, output: global.output)
  }
}

/// `schedctl builds [APP]`: the recent builds.
struct BuildsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "builds",
    abstract: "List recent builds: who, what ref, which kind, how long, which image.",
    usage: "schedctl builds [<app>] [<global options>]")

  @OptionGroup var global: GlobalOptions

  @Argument(help: "Only this app's builds.")
  var app: String?

  func run() async throws {
    let client = try global.client()
    let builds = try await Exit.guarding { try await client.builds(app: app) }
    if global.output == .json { return try printJSON(builds) }
    guard !builds.isEmpty else {
      print("no builds yet; start one with schedctl build APP --context DIR")
      return
    }
    var table = Table("BUILD", "REF", "KIND", "STATE", "NODE", "TOOK", "IMAGE", "BY")
    for build in builds {
      let took = build.durationMillis.map { String(format: "%.1fs", Double($0) / 1000) } ?? "-"
      let outcome =
        build.failure.map { String($0.summary.prefix(60)) }
        ?? build.image.map { "\(build.reference) \($0.short)" } ?? "-"
      table.add(
        build.id, build.ref, build.kind.rawValue, build.state.rawValue,
        build.node?.rawValue ?? "-", took, outcome, build.actor)
    }
    print(table.render())
  }
}
