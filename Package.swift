// swift-tools-version: 6.1
import PackageDescription

// Pure targets (SchedModel, SchedWire, Placement, AgentCore, RouteTable, Dashboard) depend on no I/O package:
// the build itself keeps the core free of sockets, files and clocks.
let package = Package(
  name: "Turnout",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "schedd", targets: ["schedd"]),
    .executable(name: "sched-agent", targets: ["sched-agent"]),
    .executable(name: "schedctl", targets: ["schedctl"]),
    .executable(name: "sched-router", targets: ["sched-router"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
    .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
  ],
  targets: [
    // MARK: pure core
    .target(name: "SchedModel"),
    // The version and the commit, written before each build (Plugins/BuildInfoPlugin).
    .target(name: "BuildInfo", exclude: ["README.md"], plugins: ["BuildInfoPlugin"]),
    .plugin(name: "BuildInfoPlugin", capability: .buildTool()),
    .target(name: "SchedWire", dependencies: ["SchedModel", "RouteTable"], exclude: ["README.md"]),
    // The operator API's JSON bodies, shared by schedd, schedctl and the dashboard.
    .target(
      name: "OperatorAPI", dependencies: ["SchedModel", "RouteTable"], exclude: ["README.md"]),
    .target(name: "Placement", dependencies: ["SchedModel"], exclude: ["README.md"]),
    .target(name: "AgentCore", dependencies: ["SchedModel", "SchedWire"]),
    .target(name: "RouteTable", dependencies: ["SchedModel"], exclude: ["README.md"]),
    // HTTP/1.1 on the bytes: the head parser, the head writer and the body framer. Pure: NIOCore
    // holds the buffers, no socket is opened here.
    .target(
      name: "HTTPFraming", dependencies: [.product(name: "NIOCore", package: "swift-nio")],
      exclude: ["README.md"]),
    // The apps' lifecycle: events in, actions out, over the scheduler's decisions.
    .target(
      name: "Lifecycle", dependencies: ["SchedModel", "Placement", "RouteTable", "OperatorAPI"],
      exclude: ["README.md"]),
    .target(name: "Dashboard", dependencies: ["SchedModel", "OperatorAPI", "RouteTable"]),

    // MARK: I/O
    // epoll and eventfd for the router's own event loop.
    .target(name: "CEpoll"),
    .target(
      name: "SchedStore",
      dependencies: [
        "SchedModel",
        .product(name: "GRDB", package: "GRDB.swift"),
      ]
    ),
    // The cluster's certificates: the CA, node certificates from requests, join tokens that
    // pin the CA, and the files keys live in (0600).
    .target(
      name: "ClusterPKI",
      dependencies: [
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]
    ),
    // ACME (RFC 8555): the account's signed requests, an order from HTTP-01 proof to PEM,
    // and when each name is renewed. HTTP goes through a transport the caller gives.
    .target(
      name: "ACME",
      dependencies: [
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]
    ),
    .target(
      name: "WireTransport",
      dependencies: [
        "SchedWire", "ClusterPKI",
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOTLS", package: "swift-nio"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // Content-addressed blob files (image layers, configs, manifests): written, hashed and
    // checked against their digest before anyone reads them. The scheduler's image store, the
    // agents' fetch cache and schedctl's push share it.
    .target(
      name: "Blobs",
      dependencies: [
        "SchedModel", .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "NIOCore", package: "swift-nio"),
      ]
    ),
    // Infra checks of slots (HTTP or TCP), run by agents on their own slots and by the
    // scheduler through routers' preview listeners.
    .target(
      name: "Checks",
      dependencies: [
        "SchedModel",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ]
    ),
    .target(
      name: "SchedulerDaemon",
      dependencies: [
        "SchedModel", "SchedWire", "OperatorAPI", "Placement", "Lifecycle", "SchedStore",
        "WireTransport", "Dashboard", "Checks", "Blobs", "ClusterPKI",
        "BuildInfo", "ACME",
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .target(
      name: "AgentDaemon",
      dependencies: [
        "SchedModel", "SchedWire", "AgentCore", "WireTransport", "Checks", "Blobs", "ClusterPKI",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .target(
      name: "RouterDaemon",
      dependencies: [
        "SchedModel", "SchedWire", "RouteTable", "WireTransport", "HTTPFraming", "Checks",
        "ClusterPKI", "CEpoll",
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .target(
      name: "DockerRuntime",
      dependencies: [
        "AgentCore", "Blobs",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ]
    ),
    .target(
      name: "SchedClient",
      dependencies: [
        "SchedModel", "OperatorAPI",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
      ]
    ),
    .target(
      name: "SchedCtlCommands",
      dependencies: [
        "Placement",
        "SchedModel", "OperatorAPI", "SchedClient", "RouteTable", "BuildInfo", "Blobs",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "Yams", package: "Yams"),
      ]
    ),

    // MARK: executables
    .executableTarget(
      name: "schedd",
      dependencies: [
        "SchedulerDaemon", "SchedStore", "SchedModel", "BuildInfo", "ClusterPKI",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "sched-agent",
      dependencies: [
        "AgentDaemon", "AgentCore", "SchedModel", "SchedWire", "DockerRuntime", "WireTransport",
        "BuildInfo", "Blobs", "ClusterPKI",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(name: "schedctl", dependencies: ["SchedCtlCommands"]),
    .executableTarget(
      name: "sched-router",
      dependencies: [
        "RouterDaemon", "WireTransport", "BuildInfo", "ClusterPKI",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "NIOCore", package: "swift-nio"),
      ]
    ),

    // Benchmarks of the pure core (placement speed and packing), built in release by
    // scripts/bench-placement; not shipped.
    .executableTarget(
      name: "turnout-bench",
      dependencies: [
        "Placement", "SchedModel",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    // Simulated nodes against a running schedd (issue 22's scale figures); not shipped.
    .executableTarget(
      name: "sched-sim",
      dependencies: [
        "AgentDaemon", "AgentCore", "SchedModel", "SchedWire", "SchedClient", "WireTransport",
        "OperatorAPI",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ]
    ),

    // MARK: tests
    // Fixtures of the pure values (model, wire frames), a manual clock and a seeded generator.
    .target(
      name: "ModelFixtures", dependencies: ["SchedModel", "SchedWire", "RouteTable"],
      path: "Tests/ModelFixtures"),
    // Fakes of the I/O protocols, process and in-process harnesses.
    .target(
      name: "SchedTestSupport",
      dependencies: [
        "ModelFixtures", "SchedModel", "SchedWire", "OperatorAPI", "AgentCore", "SchedStore",
        "Lifecycle", "SchedulerDaemon",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ],
      path: "Tests/SchedTestSupport"
    ),
    // One test target per module; the pure ones build without NIO's sockets, GRDB or
    // Hummingbird.
    .testTarget(name: "SchedModelTests", dependencies: ["SchedModel"]),
    .testTarget(
      name: "SchedWireTests",
      dependencies: ["SchedWire", "SchedModel", "RouteTable", "ModelFixtures"]),
    .testTarget(name: "OperatorAPITests", dependencies: ["OperatorAPI", "SchedModel"]),
    .testTarget(
      name: "PlacementTests",
      dependencies: [
        "Placement", "SchedModel", "ModelFixtures",
        .product(name: "PropertyBased", package: "swift-property-based"),
      ]),
    .testTarget(
      name: "RouteTableTests",
      dependencies: [
        "RouteTable", "SchedModel",
        .product(name: "PropertyBased", package: "swift-property-based"),
      ]),
    .testTarget(
      name: "AgentCoreTests", dependencies: ["AgentCore", "SchedModel", "SchedWire"]),
    .testTarget(
      name: "DashboardTests",
      dependencies: ["Dashboard", "OperatorAPI", "RouteTable", "SchedModel"]),
    .testTarget(
      name: "WireTransportTests",
      dependencies: [
        "WireTransport", "ModelFixtures", "ClusterPKI", "SchedWire",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOTestUtils", package: "swift-nio"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    .testTarget(
      name: "ClusterPKITests",
      dependencies: [
        "ClusterPKI", "SchedModel", .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .testTarget(
      name: "ACMETests",
      dependencies: [
        "ACME", .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]),
    .testTarget(
      name: "HTTPFramingTests",
      dependencies: ["HTTPFraming", .product(name: "NIOCore", package: "swift-nio")]),
    .testTarget(
      name: "LifecycleTests",
      dependencies: ["Lifecycle", "SchedModel", "RouteTable", "OperatorAPI", "ModelFixtures"]),
    .testTarget(
      name: "SchedStoreTests", dependencies: ["SchedStore", "SchedModel", "SchedTestSupport"]),
    .testTarget(
      name: "AgentDaemonTests",
      dependencies: [
        "AgentDaemon", "AgentCore", "SchedModel", "SchedWire", "OperatorAPI", "SchedTestSupport",
        "Blobs", "WireTransport",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
      ]),
    .testTarget(
      name: "RouterDaemonTests",
      dependencies: [
        "RouterDaemon", "RouteTable", "SchedModel", "SchedTestSupport", "HTTPFraming",
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ]),
    .testTarget(
      name: "SchedCtlCommandsTests",
      dependencies: [
        "SchedCtlCommands", "SchedModel", "SchedWire", "OperatorAPI", "AgentCore", "Blobs",
        "Placement",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .testTarget(
      name: "SchedClientTests",
      dependencies: [
        "SchedClient", "OperatorAPI", .product(name: "NIOHTTP1", package: "swift-nio"),
      ]),
    .testTarget(name: "DockerRuntimeTests", dependencies: ["DockerRuntime"]),
    .testTarget(
      name: "BlobsTests",
      dependencies: ["Blobs", "SchedModel", .product(name: "NIOCore", package: "swift-nio")]),
    .testTarget(
      name: "ChecksTests",
      dependencies: [
        "Checks", "SchedModel", .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ]),
    // The scheduler in-process, with agents on the fake runtime and routers on loopback.
    .testTarget(
      name: "SchedulerDaemonTests",
      dependencies: [
        "SchedulerDaemon", "Lifecycle", "SchedModel", "SchedWire", "OperatorAPI", "AgentCore",
        "AgentDaemon",
        "RouterDaemon", "RouteTable", "SchedClient", "SchedCtlCommands", "SchedStore",
        "WireTransport", "BuildInfo", "SchedTestSupport", "Blobs", "ClusterPKI", "ModelFixtures",
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // The programs as processes, the Docker engine, a browser: end to end, one after another.
    .testTarget(
      name: "IntegrationTests",
      dependencies: [
        "SchedModel", "ClusterPKI", "SchedWire", "OperatorAPI", "AgentCore", "AgentDaemon",
        "DockerRuntime",
        "RouteTable", "RouterDaemon", "SchedClient", "WireTransport", "SchedTestSupport",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ]),
  ],
  swiftLanguageModes: [.v6]
)
