import Blobs
import Foundation
import NIOCore
import Testing

@Suite(".dockerignore rules and build context archives")
struct BuildContextTests {
  @Test(
    "patterns match as Docker's client matches them",
    arguments: [
      ("node_modules", "node_modules", true),
      ("node_modules", "node_modules/a/b.js", true),
      ("node_modules", "src/node_modules", false),
      ("*.log", "debug.log", true),
      ("*.log", "logs/debug.log", false),
      ("**/*.log", "logs/deep/debug.log", true),
      ("**/*.log", "debug.log", true),
      ("/build", "build/x", true),
      ("./build", "build", true),
      ("a?c", "abc", true),
      ("a?c", "a/c", false),
      ("[a-c]x", "bx", true),
      ("[!a-c]x", "bx", false),
      ("docs/**/draft", "docs/draft", true),
      ("docs/**/draft", "docs/x/y/draft/z", true),
      ("\\*star", "*star", true),
      ("\\*star", "xstar", false),
    ])
  func matching(pattern: String, path: String, excluded: Bool) {
    #expect(DockerIgnore(pattern).excludes(path) == excluded, "\(pattern) vs \(path)")
  }

  @Test("the last matching rule decides; ! brings a path back; comments and blanks are skipped")
  func exceptions() {
    let rules = DockerIgnore(
      """
      # generated
      *.md

      !README.md
      secrets
      """)
    #expect(rules.excludes("CHANGES.md"))
    #expect(!rules.excludes("README.md"))
    #expect(rules.excludes("secrets/key"))
    #expect(!rules.excludes("src/main.c"))
    #expect(rules.hasExceptions)
  }

  func tree(_ files: [String: String]) throws -> String {
    let root = NSTemporaryDirectory() + "ctx-\(UUID().uuidString)"
    for (path, text) in files {
      let full = "\(root)/\(path)"
      try FileManager.default.createDirectory(
        atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try text.write(toFile: full, atomically: true, encoding: .utf8)
    }
    return root
  }

  @Test("an archive holds what .dockerignore leaves, is exactly its planned size, and reads back")
  func archiveRoundTrip() throws {
    let longName = "deep/" + String(repeating: "n", count: 120) + ".txt"
    let root = try tree([
      "Dockerfile": "FROM scratch\n", ".dockerignore": "*.tmp\nDockerfile\nignored/\n",
      "app/main.txt": "hello", "scratch.tmp": "junk", "ignored/big": "x", longName: "long",
    ])
    defer { try? FileManager.default.removeItem(atPath: root) }
    let archive = try ContextArchive.plan(directory: root)
    let names = Set(archive.members.map(\.name))
    #expect(names.contains("Dockerfile"), "the Dockerfile is always sent")
    #expect(names.contains(".dockerignore"))
    #expect(names.contains("app/main.txt"))
    #expect(names.contains(longName))
    #expect(!names.contains("scratch.tmp"))
    #expect(!names.contains { $0.hasPrefix("ignored") })
    #expect(archive.ignored == 2)
    let out = root + ".tar"
    defer { try? FileManager.default.removeItem(atPath: out) }
    try archive.write(to: out)
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
    #expect(Int64(bytes.count) == archive.size)
    var reader = TarReader()
    var files: [String: String] = [:]
    var current: String?
    for event in try reader.feed(ByteBuffer(bytes: bytes)) {
      switch event {
      case .begin(let entry): current = entry.kind == .file ? entry.name : nil
      case .bytes(let piece):
        if let current { files[current, default: ""] += String(buffer: piece) }
      case .end: current = nil
      }
    }
    #expect(reader.isFinished)
    #expect(files["app/main.txt"] == "hello")
    #expect(files[longName] == "long", "a name over 100 bytes goes in a PAX record")
    // GNU tar reads it the same way.
    let tar = Process()
    tar.executableURL = URL(fileURLWithPath: "/bin/tar")
    tar.arguments = ["-tf", out]
    let pipe = Pipe()
    tar.standardOutput = pipe
    try tar.run()
    let listed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    tar.waitUntilExit()
    #expect(tar.terminationStatus == 0)
    #expect(listed.split(separator: "\n").contains(Substring(longName)))
  }

  @Test("a context without its Dockerfile is refused with what to do")
  func missingDockerfile() throws {
    let root = try tree(["app.txt": "x"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    #expect {
      try ContextArchive.plan(directory: root, dockerfile: "web.Dockerfile")
    } throws: { error in
      (error as? BlobError)?.message.contains("--dockerfile") == true
    }
  }
}
