import Logging
import NIOCore
import NIOPosix
import SchedModel

/// Where the sampler sends each round of samples besides the store.
protocol MetricSink: Sendable {
  func send(_ samples: [Sample]) async
}

/// Sends samples to Graphite (carbon's plaintext line receiver) over TCP: one connection per
/// round, closed after the write. A Graphite that is down costs one warning, not one per round,
/// and never holds up the sampler for longer than the connect timeout.
actor GraphiteSink: MetricSink {
  let host: String
  let port: Int
  let prefix: String
  let logger: Logger
  private var failing = false

  init(host: String, port: Int, prefix: String = "turnout", logger: Logger) {
    self.host = host
    self.port = port
    self.prefix = prefix
    self.logger = logger
  }

  func send(_ samples: [Sample]) async {
    let text = GraphitePlaintext.lines(samples, prefix: prefix)
    guard !text.isEmpty else { return }
    do {
      let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connectTimeout(.seconds(2))
        .connect(host: host, port: port).get()
      try await channel.writeAndFlush(ByteBuffer(string: text)).get()
      try await channel.close().get()
      if failing {
        logger.notice("graphite reachable again", metadata: ["graphite": "\(host):\(port)"])
        failing = false
      }
    } catch {
      if !failing {
        logger.warning(
          "cannot send samples to graphite; trying again every round",
          metadata: ["graphite": "\(host):\(port)", "error": "\(error)"])
      }
      failing = true
    }
  }
}

/// Graphite's plaintext protocol: one `path value timestamp` line per sample. A series'
/// `/`-separated parts become the path's dot-separated parts under `prefix`; characters
/// Graphite gives a meaning to (dots, spaces) become `_` inside a part.
public enum GraphitePlaintext {
  public static func lines(_ samples: [Sample], prefix: String) -> String {
    var out = ""
    for sample in samples where sample.value.isFinite {
      let parts = sample.series.split(separator: "/").map { part in
        String(part.map { $0 == "." || $0 == " " || $0 == "\t" || $0 == "\n" ? "_" : $0 })
      }
      let path = ([prefix].filter { !$0.isEmpty } + parts).joined(separator: ".")
      out += "\(path) \(format(sample.value)) \(sample.at)\n"
    }
    return out
  }

  static func format(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
  }
}
