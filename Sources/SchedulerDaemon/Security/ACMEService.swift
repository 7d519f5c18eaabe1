import ACME
import Foundation
import Logging
import OperatorAPI
import SchedModel
import SchedStore

/// Keeps every app host whose spec says `https: {acme: true}` certified: one ACME account for
/// the cluster (its key sealed in the store), one order per name, the HTTP-01 token handed to
/// every connected router before the CA is told to look, the certificate handed to
/// `ServedCertificates` (and so to every router). Renewal at two thirds of the life, retries
/// with backoff, an event for each issue, renewal and failure; a failure never touches the
/// certificate in use. One owner: this actor, whose loop runs one order at a time.
actor ACMEService {
  static let accountScope = "acme-account"
  let settings: ACMESettings
  let client: ACMEClient
  let transport: ACMEHTTPTransport
  let served: ServedCertificates
  let routers: RouterHub
  let apps: AppService
  let store: any StateStore
  let seal: SecretSeal
  let logger: Logger
  let now: @Sendable () -> Date
  let plan: RenewalPlan

  struct Failure {
    var count: Int
    var last: Date
    var error: String
  }
  private var failures: [String: Failure] = [:]
  private var forced: Set<String> = []
  /// `schedctl cert renew` callers waiting for a name's next attempt.
  private var waiters:
    [String: [CheckedContinuation<Result<CertificateView, SchedulerError>, Never>]] = [:]
  private var running = false

  private init(
    settings: ACMESettings, client: ACMEClient, transport: ACMEHTTPTransport,
    served: ServedCertificates, routers: RouterHub, apps: AppService, store: any StateStore,
    seal: SecretSeal, logger: Logger, now: @escaping @Sendable () -> Date
  ) {
    self.settings = settings
    self.client = client
    self.transport = transport
    self.served = served
    self.routers = routers
    self.apps = apps
    self.store = store
    self.seal = seal
    self.logger = logger
    self.now = now
    plan = RenewalPlan(retryBase: settings.retryBase, retryCap: settings.retryCap)
  }

  /// The account for `settings.directory`: the stored key (and account URL) or a new key,
  /// kept sealed before it is first used.
  static func load(
    settings: ACMESettings, served: ServedCertificates, routers: RouterHub, apps: AppService,
    store: any StateStore, seal: SecretSeal, logger: Logger, now: @escaping @Sendable () -> Date
  ) async throws(SchedulerError) -> ACMEService {
    let stored: String?
    do { stored = try await store.secret(scope: accountScope, name: settings.directory) } catch {
      throw SchedulerError(.store, "cannot read the ACME account: \(error.message)")
    }
    var account: StoredAccount
    if let stored {
      let json = try seal.openStored(stored, scope: accountScope, name: settings.directory)
      guard let read = try? JSONDecoder().decode(StoredAccount.self, from: Data(json.utf8)) else {
        throw SchedulerError(
          .store, "the stored ACME account for \(settings.directory) does not read")
      }
      account = read
    } else {
      account = StoredAccount(key: AccountKey().pem, url: nil)
    }
    let key: AccountKey
    do { key = try AccountKey(pem: account.key) } catch {
      throw SchedulerError(.store, error.message)
    }
    let transport = ACMEHTTPTransport(caFile: settings.caFile)
    let client = ACMEClient(
      directoryURL: settings.directory, key: key, account: account.url,
      contact: settings.email.map { ["mailto:\($0)"] } ?? [], transport: transport)
    let service = ACMEService(
      settings: settings, client: client, transport: transport, served: served, routers: routers,
      apps: apps, store: store, seal: seal, logger: logger, now: now)
    if stored == nil { try await service.saveAccount(url: nil) }
    logger.info(
      "ACME on",
      metadata: ["directory": "\(settings.directory)", "account": "\(account.url ?? "new")"])
    return service
  }

  struct StoredAccount: Codable {
    var key: String
    var url: String?
  }

  private func saveAccount(url: String?) async throws(SchedulerError) {
    let json = String(
      decoding: (try? JSONEncoder().encode(StoredAccount(key: client.key.pem, url: url))) ?? Data(),
      as: UTF8.self)
    let sealed = try seal.sealStored(json, scope: Self.accountScope, name: settings.directory)
    do {
      try await store.setSecret(
        sealed, scope: Self.accountScope, name: settings.directory, events: [])
    } catch {
      throw SchedulerError(.store, "cannot keep the ACME account: \(error.message)")
    }
  }

  // MARK: the loop

  /// Every second: the names due (new ones, renewals at two thirds, retries after backoff),
  /// one order at a time, until cancelled.
  func run() async {
    while !Task.isCancelled {
      let names = await managedNames()
      let due = plan.next(names.map { planned($0.name) }, now: now()).due
      for name in due where !Task.isCancelled {
        await attempt(name, app: names.first { $0.name == name }?.app ?? "?")
      }
      // A name no app asks for any more: its waiters hear so.
      for name in waiters.keys where !names.contains(where: { $0.name == name }) {
        finish(name, .failure(SchedulerError(.notFound, notManaged(name))))
      }
      try? await Task.sleep(for: .seconds(1))
    }
    await transport.shutdown()
  }

  /// App host names that ask for ACME, each with the first app naming it.
  func managedNames() async -> [(name: String, app: String)] {
    var seen: Set<String> = []
    var out: [(String, String)] = []
    for record in await apps.apps() where record.spec.https?.acme == true {
      for host in record.spec.hosts where seen.insert(host).inserted {
        out.append((host, record.spec.name))
      }
    }
    return out.sorted { $0.0 < $1.0 }
  }

  private func planned(_ name: String) -> RenewalPlan.Name {
    let current = served.certificate(name)
    let failure = failures[name]
    return RenewalPlan.Name(
      name: name, notBefore: current?.notBefore, notAfter: current?.notAfter,
      failures: failure?.count ?? 0, lastFailure: failure?.last, forced: forced.contains(name))
  }

  /// One order for `name`; on failure the certificate in use serves on, and an event says
  /// what failed and when the next try is.
  private func attempt(_ name: String, app: String) async {
    forced.remove(name)
    let accountBefore = await client.account
    do throws(SchedulerError) {
      let connected = await routers.connectedNames
      guard !connected.isEmpty else {
        throw SchedulerError(
          .nodeNotConnected,
          "no router is connected to answer the CA's HTTP-01 challenge for \(name)")
      }
      let issued: Issuance.Issued
      do { issued = try await issuance().obtain(name) } catch {
        throw SchedulerError(.commandFailed, error.message)
      }
      let view = try await served.obtained(
        name: name, chain: issued.chainPEM, key: issued.keyPEM, directory: settings.directory)
      failures[name] = nil
      logger.notice(
        "certificate obtained over ACME",
        metadata: ["name": "\(name)", "until": "\(view.notAfter.formatted(.iso8601))"])
      finish(name, .success(view))
    } catch {
      failed(name, app: app, error)
    }
    if let account = await client.account, account != accountBefore {
      try? await saveAccount(url: account)
    }
  }

  private func failed(_ name: String, app: String, _ error: SchedulerError) {
    var failure = failures[name] ?? Failure(count: 0, last: now(), error: "")
    failure.count += 1
    failure.last = now()
    failure.error = error.message
    failures[name] = failure
    let retry = failure.last.addingTimeInterval(plan.backoff(after: failure.count))
    let current = served.certificate(name)
    let serving =
      current.map {
        "the \($0.source) certificate valid until \($0.notAfter.formatted(.iso8601)) serves on"
      } ?? "no certificate serves \(name) yet"
    logger.error(
      "ACME order failed",
      metadata: ["name": "\(name)", "error": "\(error.message)", "retry": "\(retry)"])
    let event = ClusterEvent(
      at: now(), actor: "scheduler", kind: "certificate.failed", subject: name,
      detail:
        "\(error.message); \(serving); next try at \(retry.formatted(.iso8601)) (failure \(failure.count) in a row, app \(app))"
    )
    let store = self.store
    Task { try? await store.appendEvents([event]) }
    finish(name, .failure(SchedulerError(error.code, error.message + "; " + serving)))
  }

  private func issuance() -> Issuance {
    let routers = self.routers
    let timeout = settings.challengeTimeout
    return Issuance(
      client: client,
      present: { token, keyAuthorization throws(ACMEError) in
        let missing = await routers.challenge(token, keyAuthorization, timeout: timeout)
        guard missing.isEmpty else {
          throw ACMEError(
            .challenge,
            "the CA was not asked to look: router(s) "
              + missing.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }
              .joined(separator: ", ") + " did not confirm the challenge token")
        }
      },
      withdraw: { token in _ = await routers.challenge(token, nil, timeout: timeout) })
  }

  // MARK: operators

  /// An order for `name` now, whatever its certificate's age; returns when it ends.
  func renew(_ name: String) async throws(SchedulerError) -> CertificateView {
    let name = name.lowercased()
    guard await managedNames().contains(where: { $0.name == name }) else {
      throw SchedulerError(.notFound, notManaged(name))
    }
    forced.insert(name)
    let result = await withCheckedContinuation { continuation in
      waiters[name, default: []].append(continuation)
    }
    return try result.get()
  }

  /// Hands `result` to whoever waits on `name`; a renewal asked for while this order ran is
  /// answered by it, not by another order.
  private func finish(_ name: String, _ result: Result<CertificateView, SchedulerError>) {
    let waiting = waiters.removeValue(forKey: name) ?? []
    if !waiting.isEmpty { forced.remove(name) }
    for waiter in waiting { waiter.resume(returning: result) }
  }

  private func notManaged(_ name: String) -> String {
    "\(name) is not a host of an app with https: {acme: true}; add it to an app's hosts and set https.acme"
  }

  /// What `cert list` shows of each managed name.
  func views() async -> [ACMENameView] {
    let at = now()
    return await managedNames().map { name, app in
      let failure = failures[name]
      let current = served.certificate(name)
      let due = plan.due(planned(name))
      return ACMENameView(
        name: name, app: app,
        state: failure != nil ? "failing" : current == nil ? "pending" : "valid",
        nextAttempt: due <= at ? at : due, failures: failure?.count ?? 0,
        lastError: failure?.error)
    }
  }
}
