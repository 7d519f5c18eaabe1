import Foundation
import OperatorAPI
import SchedClient
import SchedModel
import SchedTestSupport
import Testing

extension ProcessSuites {
  /// What goes wrong with images, each on real processes and engines: a rotten blob in the
  /// scheduler's store, a full disk under it, an image that is nowhere.
  @Suite(
    "Image store faults", .serialized, .timeLimit(.minutes(3)),
    .enabled(
      if: TestEnvironment.has(TestHosts.available && RuntimeKind.dockerAvailable),
      "needs root, nsenter, iproute2 and dockerd"))
  struct ImageFaultTests {
    let cluster = ProcessCluster("imagefaults")
    let app = "if\(UUID().uuidString.prefix(6).lowercased())"

    @Test("a corrupted blob in the store never reaches an engine: the slot says why")
    func corruptedBlob() async throws {
      let hosts = try await TestHosts.up(1)
      defer { hosts.down() }
      let scheduler = cluster.scheddForHosts()
      try scheduler.start()
      let agent = cluster.agent(onHost: "th1")
      try agent.start()
      defer {
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
      }
      // The push needs the API up; a ready node says the scheduler is serving.
      #expect(
        await eventually(timeout: .seconds(20)) {
          (try? await cluster.api.nodes().first?.state) == .ready
        })
      let push = try await cluster.schedctl(["image", "push", "turnout-sample:1"])
      #expect(push.status == 0, "\(push.output)")
      // Rot the largest blob on the scheduler's disk: same size, one bit flipped.
      let blobs = cluster.workDir.appendingPathComponent("images/sha256")
      let largest = try FileManager.default.contentsOfDirectory(atPath: blobs.path).max {
        (try? FileManager.default.attributesOfItem(atPath: blobs.appendingPathComponent($0).path)[
          .size] as? Int ?? 0) ?? 0
          < (try? FileManager.default.attributesOfItem(
            atPath: blobs.appendingPathComponent($1).path)[.size] as? Int ?? 0) ?? 0
      }
      let file = try FileHandle(forUpdating: blobs.appendingPathComponent(try #require(largest)))
      try file.seek(toOffset: 1000)
      let byte = try #require(try file.read(upToCount: 1))
      try file.seek(toOffset: 1000)
      try file.write(contentsOf: Data([byte[0] ^ 0x40]))
      try file.close()

      var spec = ProcessCluster.sampleSpec(app)
      spec.slots = 1
      _ = try await cluster.api.apply(spec)
      let deploy = try await cluster.schedctl(["deploy", app, "--timeout", "60s"])
      #expect(deploy.status != 0, "\(deploy.output)")
      #expect(deploy.output.contains("digest check"), "\(deploy.output)")
      let images = try TestHosts.docker("th1", ["images", "-q", "--no-trunc"])
      #expect(
        images.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(images.output)")
      let states = try FileManager.default.contentsOfDirectory(atPath: cluster.workDir.path)
        .filter { $0.hasPrefix("agent-th1-state") }
      #expect(states.count == 1)
      for state in states {
        let partial = cluster.workDir.appendingPathComponent("\(state)/blobs/partial")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: partial.path)) == [])
      }
    }

    @Test("a full disk under the store refuses the push clearly and keeps what it had")
    func diskFull() async throws {
      let store = cluster.workDir.appendingPathComponent("small-disk")
      try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
      let mount = try await SchedTestSupport.run(
        URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=8m", "tmpfs", store.path])
      try #require(mount.status == 0, "\(mount.output)")
      defer {
        _ = try? runToEnd(URL(fileURLWithPath: "/bin/umount"), ["-l", store.path])
      }
      let big = "turnout-big-\(app)"
      let made = try await SchedTestSupport.run(
        URL(fileURLWithPath: "/bin/sh"),
        [
          "-c",
          "d=$(mktemp -d) && head -c 12000000 /dev/urandom > $d/blob && tar -C $d -c blob | docker import - \(big):1 >/dev/null && rm -rf $d",
        ])
      try #require(made.status == 0, "\(made.output)")
      defer { _ = try? runToEnd(URL(fileURLWithPath: "/usr/bin/docker"), ["rmi", "\(big):1"]) }
      let scheduler = cluster.schedd(["--image-dir", store.path])
      try scheduler.start()
      defer { scheduler.kill(SIGTERM) }
      #expect(await eventually { (try? await cluster.api.nodes()) != nil }, "\(scheduler.log)")

      let first = try await cluster.schedctl(["image", "push", "turnout-sample:1"])
      #expect(first.status == 0, "\(first.output)")
      let second = try await cluster.schedctl(["image", "push", "\(big):1"])
      #expect(second.status != 0)
      #expect(second.output.contains("full"), "\(second.output)")
      #expect(second.output.contains("free space"), "\(second.output)")
      let listed = try await cluster.api.images()
      #expect(listed.map(\.image.reference) == ["turnout-sample:1"])
      let manifest = try #require(listed.first?.image.manifest)
      #expect(try await cluster.api.missingBlobs([manifest]).isEmpty)
      let partial = store.appendingPathComponent("partial")
      #expect((try? FileManager.default.contentsOfDirectory(atPath: partial.path)) ?? [] == [])
      // What it kept still deploys: the store was not damaged by the failed push.
      let again = try await cluster.schedctl(["image", "push", "turnout-sample:1"])
      #expect(again.output.contains("uploading 0 of"), "\(again.output)")
    }

    @Test("an image present nowhere gives each slot a reason at deploy, and no retry loop")
    func imageNowhere() async throws {
      let scheduler = cluster.schedd()
      try scheduler.start()
      let agent = cluster.agent("n1", ports: "24600-24699")
      try agent.start()
      defer {
        agent.kill(SIGTERM)
        scheduler.kill(SIGTERM)
      }
      #expect(
        await eventually(timeout: .seconds(20)) {
          (try? await cluster.api.nodes().first?.state) == .ready
        })
      var spec = ProcessCluster.sampleSpec(app)
      spec.image = "turnout-absent-\(app):1"
      _ = try await cluster.api.apply(spec)
      let deploy = try await cluster.schedctl(["deploy", app, "--timeout", "60s"])
      #expect(deploy.status == 1, "\(deploy.output)")
      #expect(deploy.output.contains("refused"), "\(deploy.output)")
      #expect(
        deploy.output.contains("schedctl image push turnout-absent-\(app):1"), "\(deploy.output)")
      // Refused for this deployment, and it stays so: nothing is tried again and again.
      try await Task.sleep(for: .seconds(2))
      let slots = try #require(try await cluster.api.status(app).sets.first).slots
      #expect(slots.allSatisfy { $0.health == .refused }, "\(slots)")
    }
  }
}
