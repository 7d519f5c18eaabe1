import Foundation
import NIOCore

/// A build context: the files of a directory that `.dockerignore` leaves in, in a fixed
/// order, and the exact size of their tar before a byte of it is written, so a context over
/// the bound is refused before anything is read or sent. The Dockerfile and `.dockerignore`
/// are always in, as Docker's client sends them.
public struct ContextArchive: Sendable {
  public struct Member: Sendable {
    /// The name in the archive (relative, `/`-separated).
    public var name: String
    public var path: String
    public var kind: TarWriter.Kind
    public var mode: Int
    public var modified: Int64
  }

  public let directory: String
  public let members: [Member]
  /// The archive's length in bytes, trailer included.
  public let size: Int64
  /// How many paths `.dockerignore` left out.
  public let ignored: Int

  /// Walks `directory`; `dockerfile` is the Dockerfile's path inside it.
  public static func plan(directory: String, dockerfile: String = "Dockerfile")
    throws(BlobError) -> ContextArchive
  {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw BlobError(.notFound, "the build context \(directory) is not a directory")
    }
    let ignoreText =
      (try? String(contentsOfFile: "\(directory)/.dockerignore", encoding: .utf8)) ?? ""
    let ignore = DockerIgnore(ignoreText)
    let kept: Set<String> = [
      DockerIgnore.clean(dockerfile).joined(separator: "/"), ".dockerignore",
    ]
    guard FileManager.default.fileExists(atPath: "\(directory)/\(dockerfile)") else {
      throw BlobError(
        .notFound,
        "the build context \(directory) has no \(dockerfile); name it with --dockerfile")
    }
    var members: [Member] = []
    var ignored = 0
    func walk(_ relative: String) throws(BlobError) {
      let absolute = relative.isEmpty ? directory : "\(directory)/\(relative)"
      let names: [String]
      do { names = try FileManager.default.contentsOfDirectory(atPath: absolute).sorted() } catch {
        throw BlobError(.io, "cannot list \(absolute): \(error.localizedDescription)")
      }
      for name in names {
        let child = relative.isEmpty ? name : "\(relative)/\(name)"
        let path = "\(directory)/\(child)"
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
          throw BlobError(.io, "cannot read \(path): \(error.localizedDescription)")
        }
        let excluded = !kept.contains(child) && ignore.excludes(child)
        if excluded { ignored += 1 }
        let mode = (attributes[.posixPermissions] as? Int) ?? 0o644
        let modified = Int64(
          (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
        switch attributes[.type] as? FileAttributeType {
        case .typeDirectory?:
          if excluded && !ignore.hasExceptions { continue }
          if !excluded {
            members.append(
              Member(name: child, path: path, kind: .directory, mode: mode, modified: modified))
          }
          try walk(child)
        case .typeRegular?:
          guard !excluded else { continue }
          let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
          members.append(
            Member(
              name: child, path: path, kind: .file(size: size), mode: mode, modified: modified))
        case .typeSymbolicLink?:
          guard !excluded else { continue }
          let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? ""
          members.append(
            Member(
              name: child, path: path, kind: .symlink(target: target), mode: mode,
              modified: modified))
        default:
          // Sockets, fifos and devices have no place in a build context.
          continue
        }
      }
    }
    try walk("")
    let size =
      members.reduce(Int64(TarWriter.trailer.count)) {
        $0 + TarWriter.length(name: $1.name, kind: $1.kind)
      }
    return ContextArchive(directory: directory, members: members, size: size, ignored: ignored)
  }

  /// Writes the archive to `path`; fails when a file changed size since the plan.
  public func write(to path: String) throws(BlobError) {
    guard FileManager.default.createFile(atPath: path, contents: nil),
      let out = FileHandle(forWritingAtPath: path)
    else { throw BlobError(.io, "cannot write the context archive to \(path)") }
    defer { try? out.close() }
    do {
      for member in members {
        try out.write(
          contentsOf: TarWriter.header(
            name: member.name, kind: member.kind, mode: member.mode, modified: member.modified))
        guard case .file(let size) = member.kind else { continue }
        guard let input = FileHandle(forReadingAtPath: member.path) else {
          throw BlobError(.io, "cannot read \(member.path)")
        }
        defer { try? input.close() }
        var left = size
        while left > 0 {
          let piece = try input.read(upToCount: Int(min(left, 1 << 20))) ?? Data()
          guard !piece.isEmpty else { break }
          try out.write(contentsOf: piece)
          left -= Int64(piece.count)
        }
        guard left == 0, (try input.read(upToCount: 1) ?? Data()).isEmpty else {
          throw BlobError(
            .io, "\(member.path) changed size while the context was packed; build again")
        }
        try out.write(contentsOf: TarWriter.padding(size))
      }
      try out.write(contentsOf: TarWriter.trailer)
    } catch let error as BlobError {
      throw error
    } catch {
      throw BlobError(.io, "cannot write the context archive: \(error.localizedDescription)")
    }
  }

  /// The text of member `name` of the tar at `path` (a context's Dockerfile), when it is
  /// there and under 1 MiB.
  public static func readMember(_ name: String, of path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    let wanted = DockerIgnore.clean(name).joined(separator: "/")
    var reader = TarReader()
    var collecting = false
    var bytes: [UInt8] = []
    while let piece = try? handle.read(upToCount: 1 << 20), !piece.isEmpty {
      guard let events = try? reader.feed(ByteBuffer(bytes: piece)) else { return nil }
      for event in events {
        switch event {
        case .begin(let entry):
          collecting = DockerIgnore.clean(entry.name).joined(separator: "/") == wanted
        case .bytes(let chunk) where collecting:
          bytes += chunk.readableBytesView
          if bytes.count > 1 << 20 { return nil }
        case .end where collecting:
          return String(decoding: bytes, as: UTF8.self)
        default: continue
        }
      }
    }
    return nil
  }
}
