import Foundation
import OperatorAPI
import SchedModel
import SchedStore

/// The build webhook: a git host or CI signs the body with the app's hook secret; a good
/// signature builds the ref from the spec's `build.git` and then does what `build.on_push`
/// says (store, deploy the candidate, or deploy and verify, and switch only when the spec
/// says so and the verification passed). A bad one changes nothing.
extension BuildService {
  static let hookScope = "hook"

  /// Makes (or replaces) the hook secret of `app`; the only time it is shown.
  public func rotateHookSecret(_ app: String, actor: String) async throws(SchedulerError)
    -> String
  {
    guard await apps.apps().contains(where: { $0.name == app }) else {
      throw SchedulerError(.notFound, "no app '\(app)'; apply its spec first (schedctl app apply)")
    }
    let secret = HookSignature.newSecret()
    let event = ClusterEvent(
      at: now(), actor: actor, kind: "hook.secret", subject: app,
      detail: "the build webhook's secret was replaced")
    let sealed = try apps.secrets.seal.sealStored(secret, scope: Self.hookScope, name: app)
    do {
      try await store.setSecret(sealed, scope: Self.hookScope, name: app, events: [event])
    } catch {
      throw SchedulerError(.store, "cannot store the hook secret of \(app): \(error.message)")
    }
    return secret
  }

  /// A signed push: checks the signature, then orders the build and its follow-up.
  public func hook(_ app: String, body: [UInt8], signature: String?) async throws(SchedulerError)
    -> BuildView
  {
    let stored: String?
    do { stored = try await store.secret(scope: Self.hookScope, name: app) } catch {
      throw SchedulerError(.store, "cannot read the hook secret: \(error.message)")
    }
    let secret = try stored.map { value throws(SchedulerError) in
      try apps.secrets.seal.openStored(value, scope: Self.hookScope, name: app)
    }
    // One answer for an unknown app, a missing secret and a wrong signature: a caller
    // without the secret learns nothing.
    guard let secret, HookSignature.verify(signature, body: body, secret: secret) else {
      logger.notice("build webhook refused: bad signature", metadata: ["app": "\(app)"])
      throw SchedulerError(
        .unauthorized,
        "the signature does not match: sign the body with the app's hook secret (HMAC-SHA256, header X-Hub-Signature-256: sha256=HEX)"
      )
    }
    let push = (try? JSONDecoder().decode(HookPush.self, from: Data(body))) ?? HookPush()
    guard let ref = push.ref ?? push.after, !ref.isEmpty else {
      throw SchedulerError(.invalid, "the body names no ref: send {\"ref\": \"refs/heads/main\"}")
    }
    guard let spec = await apps.apps().first(where: { $0.name == app })?.spec,
      let git = spec.build?.git
    else {
      throw SchedulerError(
        .invalid, "app '\(app)' has no build.git in its spec: the webhook builds from it")
    }
    let view = try await create(
      app, BuildCreateRequest(ref: ref, kind: push.full == true ? .full : .appOnly, git: git),
      actor: "webhook")
    let policy = spec.build?.onPush ?? .build
    if policy != .build {
      let id = view.build.id
      Task {
        await self.followUp(id, policy: policy, switchAfter: spec.build?.switchAfterVerify == true)
      }
    }
    return view
  }

  /// What `on_push` asks after a webhook's build: deploy, verify, and maybe switch.
  func followUp(_ id: String, policy: BuildSettings.OnPush, switchAfter: Bool) async {
    guard let build = await finished(id), build.state == .succeeded else { return }
    func note(_ kind: String, _ detail: String) async {
      try? await store.appendEvents([
        ClusterEvent(at: now(), actor: "webhook", kind: kind, subject: build.app, detail: detail)
      ])
    }
    let deployed: DeployResponse
    do {
      deployed = try await apps.deploy(build.app, image: build.reference, actor: "webhook")
    } catch {
      await note("hook.failed", "build \(id) built, but its deploy was refused: \(error.message)")
      return
    }
    guard policy == .verify else { return }
    guard await setReady(build.app, deployment: deployed.deployment) else {
      await note(
        "hook.failed", "deployment \(deployed.deployment) did not become ready; no verification")
      return
    }
    let started: Verification
    do { started = try await apps.startVerification(build.app, actor: "webhook") } catch {
      await note(
        "hook.failed",
        "the verification of \(deployed.deployment) could not start: \(error.message)")
      return
    }
    var verification = started
    while verification.state == .running {
      try? await Task.sleep(for: .seconds(1))
      guard let next = try? await apps.verification(build.app, id: started.id) else { break }
      verification = next
    }
    guard verification.state == .passed else {
      await note("hook.failed", "verification \(started.id) did not pass; production unchanged")
      return
    }
    guard switchAfter else { return }
    do { _ = try await apps.switchLive(build.app, rollback: false, actor: "webhook") } catch {
      await note("hook.failed", "verification passed but the switch was refused: \(error.message)")
    }
  }

  /// Waits (up to 15 minutes, a deploy's hold) for the set of `deployment` to be ready.
  private func setReady(_ app: String, deployment: String) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(900)
    while ContinuousClock.now < deadline {
      if let status = try? await apps.status(app),
        let set = status.sets.first(where: { $0.deployment == deployment })
      {
        if set.state == .ready { return true }
      } else {
        return false
      }
      try? await Task.sleep(for: .milliseconds(500))
    }
    return false
  }
}

/// What the webhook reads of a push's body: GitHub's, Gitea's and GitLab's all have `ref`.
struct HookPush: Decodable {
  var ref: String?
  var after: String?
  /// Turnout's own: ask for a full build.
  var full: Bool?
}
