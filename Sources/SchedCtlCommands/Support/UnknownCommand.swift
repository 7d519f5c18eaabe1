import ArgumentParser
import Foundation

/// A command line that names no command: `schedctl logs` says "unknown command 'logs'", lists
/// the commands, and suggests the nearest one, instead of ArgumentParser's "2 unexpected
/// arguments".
enum UnknownCommand {
  /// The message for `arguments` (without the program name), or nil when they name a command
  /// (or are flags, or ask for help).
  static func message(_ arguments: [String], root: any ParsableCommand.Type = Schedctl.self)
    -> String?
  {
    var command = root
    var path = [root.configuration.commandName ?? "schedctl"]
    for word in arguments {
      let subcommands = command.configuration.subcommands
      guard !subcommands.isEmpty, !word.hasPrefix("-") else { return nil }
      if word == "help" && path.count == 1 { return nil }
      var names: [String] = []
      for subcommand in subcommands {
        names.append(subcommand.configuration.commandName ?? "\(subcommand)".lowercased())
      }
      guard let index = names.firstIndex(of: word) else {
        var text = "unknown command '\(word)'"
        if path.count > 1 { text += " for '\(path.joined(separator: " "))'" }
        if let near = nearest(word, in: names) { text += "; did you mean '\(near)'?" }
        text += "\ncommands: \(names.joined(separator: ", "))"
        text += "\nSee '\(path.joined(separator: " ")) --help'."
        return text
      }
      command = subcommands[index]
      path.append(word)
    }
    return nil
  }

  /// The name closest to `word`: one it starts or is a prefix of, else one at most two edits
  /// away.
  static func nearest(_ word: String, in names: [String]) -> String? {
    if let prefix = names.first(where: { $0.hasPrefix(word) || word.hasPrefix($0) }) {
      return prefix
    }
    let scored = names.map { ($0, distance(word, $0)) }.filter { $0.1 <= 2 }
    return scored.min { $0.1 < $1.1 }?.0
  }

  /// Levenshtein distance.
  static func distance(_ a: String, _ b: String) -> Int {
    let x = Array(a)
    let y = Array(b)
    var row = Array(0...y.count)
    for i in 1...max(1, x.count) where !x.isEmpty {
      var previous = row[0]
      row[0] = i
      for j in 1...max(1, y.count) where !y.isEmpty {
        let current = row[j]
        row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (x[i - 1] == y[j - 1] ? 0 : 1))
        previous = current
      }
    }
    return x.isEmpty ? y.count : row[y.count]
  }
}

extension Schedctl {
  /// `main()`, after refusing a command line that names no command (exit 64).
  public static func mainNamingUnknownCommands() async {
    if let message = UnknownCommand.message(Array(CommandLine.arguments.dropFirst())) {
      FileHandle.standardError.write(Data("error: \(message)\n".utf8))
      Foundation.exit(64)
    }
    await main()
  }
}
