import ArgumentParser

/// Benchmarks of the pure core that need no cluster: each prints what it measured.
@main
struct TurnoutBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "turnout-bench",
    abstract: "Benchmarks of Turnout's placement, printing measured figures.",
    discussion: "Build with -c release; scripts/bench-placement runs them.",
    subcommands: [PlacementSpeed.self, PackingQuality.self])
}
