extension BuildInfo {
  /// What `--version` prints: `schedd 0.7.0 (commit 1a2b3c4d5e6f)`.
  public static func line(_ program: String) -> String {
    "\(program) \(version) (commit \(commit))"
  }
}
