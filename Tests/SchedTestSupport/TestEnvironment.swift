import Foundation

/// What the machine offers the tests that need more than Swift: Docker, curl, a browser.
public enum TestEnvironment {
  /// Set by `scripts/test` (`TURNOUT_TESTS_STRICT=1`), which installs and starts all of them:
  /// tests that need one then run, and fail, when it is missing, instead of being skipped.
  public static var strict: Bool {
    ProcessInfo.processInfo.environment["TURNOUT_TESTS_STRICT"] != nil
  }

  /// Whether the tests that need `requirement` should run: it is there, or the run is strict.
  public static func has(_ requirement: @autoclosure () -> Bool) -> Bool {
    strict || requirement()
  }
}
