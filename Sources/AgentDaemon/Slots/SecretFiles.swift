import AgentCore
import Foundation

/// A slot's secret files on the host: one directory per container (0700, so only root on the
/// host reads it), one file per secret (0444, so any user inside the container can), bound
/// read-only at `/run/secrets/NAME`. Written before the container is made, removed with it.
enum SecretFiles {
  static func write(_ files: [String: String], to directory: String) throws(RuntimeError) {
    let manager = FileManager.default
    do {
      try manager.createDirectory(
        atPath: directory, withIntermediateDirectories: true,
        attributes: [.posixPermissions: 0o700])
      try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
      for (name, value) in files {
        let path = directory + "/" + name
        let temporary = path + ".tmp"
        try? manager.removeItem(atPath: temporary)
        guard
          manager.createFile(
            atPath: temporary, contents: Data(value.utf8),
            attributes: [.posixPermissions: 0o444])
        else { throw RuntimeError(.failed, "cannot write \(temporary)") }
        if manager.fileExists(atPath: path) { try manager.removeItem(atPath: path) }
        try manager.moveItem(atPath: temporary, toPath: path)
      }
    } catch let error as RuntimeError {
      throw error
    } catch {
      throw RuntimeError(.failed, "cannot write the slot's secret files in \(directory): \(error)")
    }
  }

  static func remove(_ directory: String) {
    try? FileManager.default.removeItem(atPath: directory)
  }
}
