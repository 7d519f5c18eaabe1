import ArgumentParser
import Foundation
import OperatorAPI
import SchedClient

/// `schedctl app hook-secret APP`: a new secret for the app's build webhook.
struct AppHookSecretCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hook-secret",
    abstract: "Make a new secret for the app's build webhook and print it once.",
    usage: "schedctl app hook-secret <app> [<global options>]",
    discussion: """
      Git hosts and CI call POST /v1/apps/APP/hooks/build on the API port with a body like \
      {"ref": "refs/heads/main"} (a push event's body works as it is), signed with this \
      secret: header X-Hub-Signature-256: sha256=HEX, the HMAC-SHA256 of the body. No API \
      token is needed; a wrong signature is refused and nothing builds. The builder checks \
      the ref out of the spec's build.git, then the spec's build.on_push says what follows: \
      build (store the image), deploy (deploy it as the candidate) or verify (deploy and \
      verify; and switch too only with build.switch_after_verify: true).

      The scheduler keeps only this secret; making a new one stops the old one at once. Give \
      it to the git host's webhook settings as its secret.

      Example: schedctl app hook-secret web
      """)

  @OptionGroup var global: GlobalOptions

  @Argument(help: "The app.")
  var app: String

  func run() async throws {
    let client = try global.client()
    let answer = try await Exit.guarding { try await client.rotateHookSecret(app) }
    switch global.output {
    case .json: try printJSON(answer)
    case .table:
      print(answer.secret)
      FileHandle.standardError.write(
        Data(
          "the webhook of \(app) now takes this secret (the old one no longer works): POST /v1/apps/\(app)/hooks/build\n"
            .utf8))
    }
  }
}
