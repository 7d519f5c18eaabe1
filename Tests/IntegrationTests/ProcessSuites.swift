import Testing

/// The suites that start real processes or containers run one after another, so their timing
/// checks are not measured against each other's load.
@Suite(.serialized) struct ProcessSuites {}
