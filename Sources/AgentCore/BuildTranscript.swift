import SchedModel

/// Follows a build's progress stream: the lines to show, the step it is at, how many steps
/// the cache answered, the image it made, and, when it failed, which step and the end of its
/// output. Pure: progress in, lines and a verdict out.
public struct BuildTranscript: Sendable {
  /// How many lines of output a failure keeps.
  public static let tailLines = 30

  public private(set) var step: Int?
  public private(set) var steps: Int?
  public private(set) var instruction: String?
  public private(set) var cachedSteps = 0
  public private(set) var imageID: String?
  public private(set) var error: String?
  public private(set) var tail: [String] = []
  /// Text of the stream not yet ended by a newline.
  private var partial = ""

  public init() {}

  /// Takes one message; returns the complete lines it finished, to show as they come.
  public mutating func take(_ progress: BuildProgress) -> [String] {
    var lines: [String] = []
    if let text = progress.stream ?? progress.status.map({ $0 + "\n" }) {
      partial += text
      while let newline = partial.firstIndex(where: \.isNewline) {
        let line = String(partial[..<newline])
        partial = String(partial[partial.index(after: newline)...])
        lines.append(line)
      }
    }
    if let id = progress.aux?.ID { imageID = id }
    if let message = progress.errorDetail?.message ?? progress.error {
      error = message
      lines.append("error: \(message)")
    }
    for line in lines { note(line) }
    return lines
  }

  /// Whatever text the stream left without a newline.
  public mutating func flush() -> [String] {
    guard !partial.isEmpty else { return [] }
    let line = partial
    partial = ""
    note(line)
    return [line]
  }

  private mutating func note(_ line: String) {
    tail.append(line)
    if tail.count > Self.tailLines { tail.removeFirst(tail.count - Self.tailLines) }
    // The classic builder's "Step 3/7 : RUN make" and its " ---> Using cache".
    if line.hasPrefix("Step "), let colon = line.range(of: " : ") {
      let numbers = line.dropFirst(5)[..<colon.lowerBound].split(separator: "/")
      if numbers.count == 2, let current = Int(numbers[0]), let total = Int(numbers[1]) {
        step = current
        steps = total
        instruction = String(line[colon.upperBound...]).trimmingCharacters()
      }
    } else if line.trimmingCharacters() == "---> Using cache" {
      cachedSteps += 1
    }
  }

  /// The failure, when the stream carried an error or ended without an image.
  public var failure: BuildFailure? {
    if let error {
      return BuildFailure(
        step: step, steps: steps, instruction: instruction, message: error, tail: tail)
    }
    guard imageID == nil else { return nil }
    return BuildFailure(
      step: step, steps: steps, instruction: instruction,
      message: "the engine ended the build without an image", tail: tail)
  }
}

extension StringProtocol {
  fileprivate func trimmingCharacters() -> String {
    String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
  }
}
