import Foundation
import SchedModel
import Testing

@Suite("Images: digests, manifests, registries")
struct ImageModelTests {
  @Test(
    "a digest is sha256: and 64 lower-case hex digits",
    arguments: [
      ("sha256:" + String(repeating: "0f", count: 32), true),
      ("sha256:" + String(repeating: "0F", count: 32), false),
      ("sha256:" + String(repeating: "0f", count: 31), false),
      ("sha512:" + String(repeating: "0f", count: 32), false),
      ("sha256:" + String(repeating: "0f", count: 31) + "0g", false),
      ("", false),
    ])
  func digests(text: String, valid: Bool) {
    #expect((ContentDigest(rawValue: text) != nil) == valid)
    #expect((try? ContentDigest.parse(text)) != nil ? valid : !valid)
  }

  @Test("a manifest's bytes decode to the same manifest; foreign ones are refused with why")
  func manifestRoundTrip() throws {
    let digest = ContentDigest(rawValue: "sha256:" + String(repeating: "1a", count: 32))!
    let manifest = ImageManifest(
      config: BlobDescriptor(mediaType: ImageManifest.configType, size: 10, digest: digest),
      layers: [BlobDescriptor(mediaType: ImageManifest.layerType, size: 20, digest: digest)])
    let bytes = manifest.encoded()
    #expect(
      String(decoding: bytes, as: UTF8.self).contains(
        #""mediaType":"application/vnd.docker.distribution.manifest.v2+json""#))
    #expect(try ImageManifest.decode(bytes) == manifest)
    #expect(manifest.size == 30)
    do {
      _ = try ImageManifest.decode(Array(#"{"schemaVersion":1}"#.utf8))
      Issue.record("a schema 1 manifest was taken")
    } catch { #expect(error.code == .invalidImage) }
    var empty = manifest
    empty.layers = []
    #expect(throws: ModelError.self) { try ImageManifest.decode(empty.encoded()) }
  }

  @Test(
    "the registry an image names, or none for Docker Hub's short names",
    arguments: [
      ("web:2", nil), ("library/nginx:1.25", nil), ("10.0.0.5:5000/web:2", "10.0.0.5:5000"),
      ("registry.example.com/team/web@sha256:abc", "registry.example.com"),
      ("localhost/web", "localhost"),
    ] as [(String, String?)])
  func registries(reference: String, registry: String?) {
    #expect(ImageReference.registry(of: reference) == registry)
  }

  @Test("a stored image's repository drops its tag or digest, not a registry's port")
  func repositories() {
    #expect(StoredImage.repository(of: "web:2") == "web")
    #expect(StoredImage.repository(of: "10.0.0.5:5000/web:2") == "10.0.0.5:5000/web")
    #expect(StoredImage.repository(of: "10.0.0.5:5000/web") == "10.0.0.5:5000/web")
    #expect(StoredImage.repository(of: "web@sha256:abc") == "web")
  }

  @Test("a registry credential never prints its password")
  func credentialDescription() {
    let credential = RegistryCredential(registry: "r.example.com", username: "ci", password: "pw")
    #expect("\(credential)" == "ci@r.example.com")
  }
}

@Suite("Build records and settings")
struct BuildModelTests {
  @Test(
    "a build's tag: the ref's last part made tag-safe, then the number",
    arguments: [
      ("refs/heads/main", 12, "main-b12"), ("local", 1, "local-b1"),
      ("feature/add login!", 3, "add-login--b3"), ("", 4, "b4"), ("v1.2", 5, "v1.2-b5"),
    ])
  func tag(ref: String, number: Int, expected: String) {
    #expect(BuildRecord.tag(ref: ref, number: number) == expected)
    #expect(ImageReference.problem("web:\(BuildRecord.tag(ref: ref, number: number))") == nil)
  }

  @Test("build settings refuse what cannot work, naming the field")
  func settings() {
    #expect(throws: ModelError.self) { try BuildSettings(timeoutMillis: 10).validate() }
    #expect(throws: ModelError.self) { try BuildSettings(dockerfile: "../Dockerfile").validate() }
    #expect(throws: ModelError.self) {
      try BuildSettings(onPush: .deploy, switchAfterVerify: true).validate()
    }
    #expect(throws: Never.self) {
      try BuildSettings(onPush: .verify, switchAfterVerify: true).validate()
    }
  }
}
