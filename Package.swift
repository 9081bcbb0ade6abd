// swift-tools-version: 6.1
import PackageDescription

/// One list of compiler settings, applied to every Swift target below.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "hubmeter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hubmeter", targets: ["hubmeter"]),
        .library(name: "HubDomain", targets: ["HubDomain"]),
        // For the nested Benchmarks package.
        .library(name: "Acquisition", targets: ["Acquisition"]),
        .library(name: "DeviceProfiles", targets: ["DeviceProfiles"]),
        .library(name: "ModbusIO", targets: ["ModbusIO"]),
        .library(name: "HubAggregator", targets: ["HubAggregator"]),
        .library(name: "HubContract", targets: ["HubContract"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        // Tests only: property-based checks over random hubs.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
    ],
    targets: [
        // C libraries, found through pkg-config; Debian packages named for `swift build` hints.
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        // LZ4 frames: the aggregator's SQLite store compresses the payloads it keeps for audits.
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        // C library knobs that Glibc's Swift module lacks (malloc arenas).
        .systemLibrary(name: "CPlatform"),

        // Pure domain: energy balance, allocation, settlement, KPIs. No I/O, no Foundation; time is passed in.
        .target(name: "HubDomain"),

        // Typed reading of YAML with key paths and line numbers in every error.
        .target(name: "ConfigReading", dependencies: ["HubSupport", .product(name: "Yams", package: "Yams")]),
        // The agent's and the aggregator's configuration files.
        .target(name: "HubConfiguration", dependencies: ["ConfigReading"]),
        // Logging, exit codes, error conventions, systemd notification; SHA-256 (interval hash
        // chain, token hashes) from swift-crypto, not the system's OpenSSL (docs/performance.md).
        .target(name: "HubSupport", dependencies: ["CPlatform", .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log")]),

        // Adapters around the C libraries.
        .target(name: "ModbusIO", dependencies: ["CModbus", "HubSupport"]),
        .target(name: "MQTTIO", dependencies: ["CMosquitto", "HubSupport"]),

        // Device knowledge as data: codecs, profiles (YAML), SunSpec model definitions (JSON),
        // request planning and decoding. Pure: it is handed file contents, never opens anything.
        .target(name: "DeviceProfiles", dependencies: ["ConfigReading", "HubSupport"]),
        // Modbus acquisition: bus executors, device pollers, backoff, cadence, SunSpec discovery,
        // verified writes, metrics.
        .target(
            name: "Acquisition",
            dependencies: ["DeviceProfiles", "ConfigReading", "ModbusIO", "HubSupport", "HubDomain", .product(name: "Logging", package: "swift-log")]
        ),
        // The MQTT topic contract v1 shared by agent and aggregator: topics, messages, hash chain.
        .target(name: "HubContract", dependencies: ["HubDomain", "HubSupport"]),
        // The hub agent: durable outbox, publisher, balance cycle, daemon services.
        .target(
            name: "HubAgent",
            dependencies: [
                "HubContract", "HubDomain", "HubConfiguration", "HubSupport", "MQTTIO", "ModbusIO", "Acquisition", "DeviceProfiles",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // The regional aggregator: ingest of hub interval records, storage, KPI queries, API and web page.
        .target(
            name: "HubAggregator",
            dependencies: [
                "HubContract", "HubDomain", "HubConfiguration", "HubSupport", "MQTTIO", "CLZ4",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // The built-in hub simulator: scenario files, deterministic park physics, and the devices
        // served over Modbus TCP from the same SunSpec model data and profiles the acquisition reads.
        .target(
            name: "HubSimulator",
            dependencies: ["Acquisition", "DeviceProfiles", "ConfigReading", "ModbusIO", "HubDomain", "HubSupport", .product(name: "Logging", package: "swift-log")]
        ),

        // Subcommands; the executable only calls into this.
        .target(
            name: "HubmeterCommands",
            dependencies: [
                "HubConfiguration", "HubSupport", "ModbusIO", "MQTTIO", "HubDomain", "DeviceProfiles", "Acquisition", "HubAgent", "HubSimulator", "HubAggregator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "hubmeter", dependencies: ["HubmeterCommands"],
            // Linked with lld: no dynamic symbol table for an executable nobody links against, and
            // relative relocations packed (DT_RELR, glibc ≥ 2.36). The loader then reads kilobytes
            // instead of 6 MB of relocations and symbols at every start, which is also resident
            // memory on the gateway (docs/performance.md).
            //
            // The functions the agent runs (start-up and cycles) are laid out together, in the order
            // of scripts/link-order/hubmeter.symbols (made by scripts/link-order/record.sh): every
            // code page the kernel maps is resident, and spread over the whole binary those were
            // 15-18 MB for 1.5 MB of code actually run. Names missing from a newer build are skipped.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
                                           "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/scripts/link-order/hubmeter.symbols",
                                           "-Xlinker", "--no-warn-symbol-ordering"])]
        ),

        .testTarget(
            name: "HubDomainTests",
            dependencies: ["HubDomain", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "ConfigurationTests",
            dependencies: ["HubConfiguration", "ConfigReading", "HubmeterCommands", "HubAgent", "Acquisition", "DeviceProfiles", "ModbusIO", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
        // Real helpers for tests: a mosquitto broker, peer processes, free ports. Not shipped.
        // Process set-up of the test bundle (SIGPIPE ignored, as in the executable).
        .target(name: "CTestSupport", path: "Tests/CTestSupport"),
        .target(name: "TestSupport", dependencies: ["CTestSupport"], path: "Tests/TestSupport"),
        .testTarget(name: "ModbusIOTests", dependencies: ["ModbusIO", "HubSupport", "TestSupport"]),
        .testTarget(name: "HubAgentTests", dependencies: ["HubAgent", "HubContract", "HubDomain", "MQTTIO", "HubSupport", "TestSupport"]),
        .testTarget(name: "DeviceProfilesTests", dependencies: ["DeviceProfiles", "ConfigReading", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "AcquisitionTests",
            dependencies: ["Acquisition", "DeviceProfiles", "ModbusIO", "HubDomain", "TestSupport", .product(name: "Logging", package: "swift-log")],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "AgentEndToEndTests", dependencies: ["HubAgent", "HubContract", "ModbusIO", "MQTTIO", "HubSupport", "TestSupport"]),
        .testTarget(
            name: "HubSimulatorTests",
            dependencies: ["HubSimulator", "Acquisition", "DeviceProfiles", "ModbusIO", "HubDomain", "ConfigReading", "TestSupport",
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "HubAggregatorTests",
            dependencies: ["HubAggregator", "HubContract", "HubDomain", "HubConfiguration", "ConfigReading", "MQTTIO", "HubSupport", "TestSupport",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .testTarget(name: "MQTTIOTests", dependencies: ["MQTTIO", "HubSupport", "TestSupport"]),
        .testTarget(name: "HubSupportTests", dependencies: ["HubSupport", "TestSupport", "CTestSupport", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
